/**
 * The claims on the page: one section listing each claim's verdict (claims/describe.ts; or why the
 * sweep cannot address it) under the method, stated once; then per analyzed claim the numbers
 * behind its verdict, as a table and figures (ridge plots for the separable claim, test error
 * curves with restarts marked for the warm-restart claim). The tables hold per-seed values, not
 * verdicts: each verdict is stated once, in the list.
 */
import { restartsSpec, ridgeSpec } from '../figures.js';
import { cellText, numLabel, OPTIMIZER_NAMES, pct, perSeedPoints } from '../format.js';
import type { HtmlFigure, HtmlSection, HtmlTable } from '../html.js';
import { type Cell, type Comparison, cellRecords } from '../metrics.js';
import type { FigurePlan, PageInput } from '../page.js';
import type { BudgetTransfer } from './budget.js';
import type { RestartsClaim } from './restarts.js';
import type { SeparableClaim } from './separable.js';

const CLAIMS_TEXT =
  'One experiment per claim of the paper, each verdict in one sentence. Two settings are compared paired by seed (a seed gives both the same initialization and data order): d_s is the difference of their test errors on seed s, over the n seeds both ran. Every interval is a Student t 95% interval: d̄ ± t(0.975, n-1)·s_d/√n over the seeds; a basin slope measured on one seed gets the regression interval over its m learning rates instead, b ± t(0.975, m-2)·s/√Sxx. The interval decides, never a fixed threshold: above or below 0, a difference is detected; containing 0, none is detectable; with one seed no interval can be computed. Best settings are chosen on the validation error when the records carry one, else on the test error (What the data shows says which). A claim the sweep has no data for is named with the reason.';

const GENERALIZATION_TEXT =
  "Each decoupled optimizer against its coupled twin, each at its best setting, and each optimizer's best decay against its best without decay (both settings are in the Summary table of the sweep's report). Per seed, d_s = test error of the coupled setting minus that of the decoupled one, in points: positive means the decoupled optimizer is lower. Relative improvement = (best coupled - best decoupled) / best coupled, on mean test error. The paper's Fig. 3 view, test error against training loss, is further below.";

const SEPARABLE_TEXT =
  "For each seed and learning rate, the best nonzero weight decay (the seed's ridge); each seed's slope b_s is the least-squares slope of log10(best decay) on log10(lr), and the claim's slope is their mean (with one seed, that seed's slope). A diagonal basin (only lr × decay matters, the paper's finding for L2) gives -1, an axis-aligned one (the paper's claim for decoupled decay) 0. The mean's best decay is the white dot of each heatmap row. \"Edge\" marks a best decay at the end of the grid: the true optimum may lie beyond it.";

const BUDGET_TEXT =
  'The best setting (lr and nonzero decay) of each seed at the shortest and the longest training length, with both forms of its decay: λ_norm and the applied λ = λ_norm·√(b/(B·T)). The verdict measures each shift in cells of the shorter run\'s decay grid (log-linear between columns), per seed, later minus earlier: "moves" when the interval excludes 0, "stays" when it contains 0 and lies within ±1 cell.';

const RESTARTS_TEXT =
  'Warm restarts against one cosine annealing over the same epochs, each at its best setting. At each restart epoch (the end of a period, where a restarted run is annealed) and at the last epoch, d_s = error with cosine minus error with restarts, per shared seed, in points: positive means the restarted run is lower there.';

const groupOf = (o: keyof typeof OPTIMIZER_NAMES, schedule: string) =>
  `${OPTIMIZER_NAMES[o]} (${schedule})`;

/** The decay's short name for an axis: "L2 factor", "λ_norm" or "λ". */
function decayNameOf(input: PageInput, optimizer: string, schedule: string): string {
  const g = input.summary.groups.find((x) => x.optimizer === optimizer && x.schedule === schedule);
  if (optimizer === 'adam' || optimizer === 'sgd') return 'L2 factor';
  return g?.config?.weightDecayNorm ? 'λ_norm' : 'λ';
}

/** The claims' figures, before rendering. */
export function claimPlans(input: PageInput): FigurePlan[] {
  const { separable, restarts } = input.summary.claims;
  const plans: FigurePlan[] = [];
  if (separable.status === 'analyzed') {
    for (const s of separable.result.slopes) {
      const name = groupOf(s.optimizer, s.schedule);
      plans.push({
        id: `ridge-${s.optimizer}-${s.schedule}`,
        compact: true,
        title: `${name} basin ridge`,
        caption: `Each seed's best decay per learning rate (overlapping points darken). Red line: the claim's slope, through the points' centre.`,
        spec: ridgeSpec(s.points, s.slope.mean, {
          title: `${name}: best decay against lr`,
          decayAxis: decayNameOf(input, s.optimizer, s.schedule),
        }),
      });
    }
  }
  if (restarts.status === 'analyzed') {
    for (const r of restarts.result) plans.push(restartsPlan(input, r));
  }
  return plans;
}

function restartsPlan(input: PageInput, r: RestartsClaim): FigurePlan {
  const name = OPTIMIZER_NAMES[r.optimizer];
  const label = (what: string, c: Cell) =>
    `${name} ${what} · lr ${numLabel(c.lr)} · decay ${numLabel(c.weightDecay)}`;
  const series = [
    { label: label('cosine', r.cosineBest), results: cellRecords(r.cosineBest, input.results) },
    {
      label: label('warm restarts', r.restartsBest),
      results: cellRecords(r.restartsBest, input.results),
    },
  ];
  return {
    id: `restarts-${r.optimizer}`,
    title: `${name}: warm restarts against cosine`,
    caption: `Test error per epoch of ${name}'s best setting with warm restarts and with one cosine annealing over ${r.epochs} epochs: line = mean over seeds, band = min to max over seeds. Dashed rules: restart epochs (the learning rate jumps back up after them). Anytime performance is read at the end of each period.`,
    spec: restartsSpec(
      series,
      r.restartEpochs,
      `${name}: test error over epochs, warm restarts against cosine`,
    ),
  };
}

function separableTable(s: SeparableClaim): HtmlTable {
  return {
    head: ['optimizer', 'lr', 'best decay (mean over seeds)', 'best decay per seed', 'edge'],
    rows: s.slopes.flatMap((b) =>
      b.rows.map((row) => [
        groupOf(b.optimizer, b.schedule),
        numLabel(row.lr),
        numLabel(row.bestDecay),
        row.seedDecays.map(numLabel).join(', '),
        row.atEdge ? 'edge' : '',
      ]),
    ),
  };
}

const perSeed = (xs: number[]) => xs.map((x) => numLabel(Number(x.toPrecision(3)))).join(', ');

function budgetTable(budget: BudgetTransfer[]): HtmlTable {
  return {
    head: [
      'optimizer',
      'epochs',
      'seeds',
      'best lr per seed',
      'best λ_norm per seed',
      'best raw λ per seed',
    ],
    rows: budget.flatMap((b) =>
      [b.short, b.long].map((epochs) => {
        const best = b.best.filter((x) => x.epochs === epochs);
        return [
          groupOf(b.optimizer, b.schedule),
          epochs,
          best.map((x) => x.seed).join(', '),
          perSeed(best.map((x) => x.lr)),
          perSeed(best.map((x) => x.decay.norm)),
          perSeed(best.map((x) => x.decay.raw)),
        ];
      }),
    ),
  };
}

function restartsTable(restarts: RestartsClaim[]): HtmlTable {
  return {
    head: [
      'optimizer',
      'epoch',
      'cosine (mean)',
      'warm restarts (mean)',
      'cosine minus restarts per seed (points)',
    ],
    rows: restarts.flatMap((r) =>
      r.points.map((p) => [
        OPTIMIZER_NAMES[r.optimizer],
        p.epoch === r.epochs ? `${p.epoch} (end)` : p.epoch,
        pct(p.cosineMean),
        pct(p.restartsMean),
        perSeedPoints(p.perSeed),
      ]),
    ),
  };
}

const setting = (c: Cell) =>
  `lr ${numLabel(c.lr)}, decay ${numLabel(c.weightDecay)}: ${cellText(c)}`;

function generalizationTable(comparisons: Comparison[]): HtmlTable {
  return {
    head: [
      'comparison',
      'schedule',
      'coupled best',
      'decoupled best',
      'relative improvement',
      'coupled minus decoupled per seed (points)',
    ],
    rows: comparisons.map((c) => [
      `${OPTIMIZER_NAMES[c.decoupled]} vs ${OPTIMIZER_NAMES[c.coupled]}`,
      c.schedule,
      setting(c.coupledBest),
      setting(c.decoupledBest),
      pct(c.relativeImprovement, 1),
      perSeedPoints(c.perSeed),
    ]),
  };
}

/** The claims' sections: the verdicts, then each analyzed claim's numbers and figures. */
export function claimSections(input: PageInput, figures: HtmlFigure[]): HtmlSection[] {
  const { claims, claimFindings } = input.summary;
  const own = (prefix: string) => figures.filter((f) => f.id.startsWith(prefix));
  const out: HtmlSection[] = [
    {
      title: "The paper's claims",
      paragraphs: [CLAIMS_TEXT],
      bullets: claimFindings,
    },
  ];
  const g = claims.generalization;
  if (g.status === 'analyzed' && g.result.comparisons.length) {
    out.push({
      title: 'Claim: generalization',
      paragraphs: [GENERALIZATION_TEXT],
      table: generalizationTable(g.result.comparisons),
    });
  }
  if (claims.separable.status === 'analyzed') {
    out.push({
      title: 'Claim: separable learning rate and decay',
      paragraphs: [SEPARABLE_TEXT],
      table: separableTable(claims.separable.result),
      figures: own('ridge-'),
    });
  }
  if (claims.budget.status === 'analyzed') {
    out.push({
      title: 'Claim: normalized decay transfers across budgets',
      paragraphs: [BUDGET_TEXT],
      table: budgetTable(claims.budget.result),
    });
  }
  if (claims.restarts.status === 'analyzed') {
    out.push({
      title: 'Claim: warm restarts and anytime performance',
      paragraphs: [RESTARTS_TEXT],
      table: restartsTable(claims.restarts.result),
      figures: own('restarts-'),
    });
  }
  return out;
}
