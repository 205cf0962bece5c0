/**
 * The claims on the page: a section listing each claim's verdict (or why the sweep cannot address
 * it), then per analyzed claim its table and figures (ridge plots for the separable claim, test
 * error curves with restarts marked for the warm-restart claim).
 */
import { restartsSpec, ridgeSpec } from '../figures.js';
import { numLabel, OPTIMIZER_NAMES, pct } from '../format.js';
import type { HtmlFigure, HtmlSection, HtmlTable } from '../html.js';
import type { ReportRecord } from '../load.js';
import type { Cell } from '../metrics.js';
import type { FigurePlan, PageInput } from '../page.js';
import type { BudgetTransfer } from './budget.js';
import { estimateText } from './describe.js';
import type { RestartsClaim } from './restarts.js';
import type { SeparableClaim } from './separable.js';

const CLAIMS_TEXT =
  'One experiment per claim of the paper. Each verdict comes from a 95% interval over seeds (Student t, the seed being the unit of replication), never from a fixed threshold, and states n. Best settings are chosen on the validation error when the records carry one, else on the test error. A claim the sweep has no data for is named with the reason.';

const SEPARABLE_TEXT =
  "For each seed and learning rate, the best nonzero weight decay; each seed's slope b_s is the least-squares slope of log10(best decay) on log10(lr), and the table's slope is their mean with a Student t 95% interval over seeds. A diagonal basin (only lr × decay matters, the paper's finding for L2) gives -1, an axis-aligned one (the paper's claim for decoupled decay) 0. \"Edge\" marks a best decay at the end of the grid: the true optimum may lie beyond it.";

const BUDGET_TEXT =
  'The best setting (lr and nonzero decay) of each seed at the shortest and the longest training length, with both forms of its decay: λ_norm and the applied λ = λ_norm·√(b/(B·T)). Shifts are measured in cells of the shorter run\'s decay grid (log-linear between columns), per seed, later minus earlier, with a Student t 95% interval; "moves" means the interval excludes 0, "stays" that it contains 0 and lies within ±1 cell.';

const RESTARTS_TEXT =
  'Warm restarts against one cosine annealing over the same epochs, each at its best setting. At each restart epoch (the end of a period, where a restarted run is annealed) and at the last epoch, d_s = error with cosine minus error with restarts, per shared seed, with a Student t 95% interval: positive means the restarted run is lower there.';

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
        caption: `Each seed's best decay per learning rate (overlapping points darken). Red line: mean slope ${estimateText(s.slope)}.`,
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

/** A cell's records (its seeds). */
function cellRecords(input: PageInput, c: Cell): ReportRecord[] {
  const byId = new Map(input.results.map((r) => [r.trialId, r]));
  return input.trials
    .filter(
      (t) =>
        t.params.optimizer === c.optimizer &&
        t.params.schedule === c.schedule &&
        t.params.lr === c.lr &&
        t.params.weightDecay === c.weightDecay,
    )
    .flatMap((t) => byId.get(t.id) ?? []);
}

function restartsPlan(input: PageInput, r: RestartsClaim): FigurePlan {
  const name = OPTIMIZER_NAMES[r.optimizer];
  const label = (what: string, c: Cell) =>
    `${name} ${what} · lr ${numLabel(c.lr)} · decay ${numLabel(c.weightDecay)}`;
  const series = [
    { label: label('cosine', r.cosineBest), results: cellRecords(input, r.cosineBest) },
    { label: label('warm restarts', r.restartsBest), results: cellRecords(input, r.restartsBest) },
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
    head: [
      'optimizer',
      'lr',
      'best decay (mean over seeds)',
      'best decay per seed',
      'edge',
      'slope, 95% CI',
    ],
    rows: s.slopes.flatMap((b) =>
      b.rows.map((row, i) => [
        groupOf(b.optimizer, b.schedule),
        numLabel(row.lr),
        numLabel(row.bestDecay),
        row.seedDecays.map(numLabel).join(', '),
        row.atEdge ? 'edge' : '',
        i === 0 ? estimateText(b.slope) : '',
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
      'best lr per seed',
      'best λ_norm per seed',
      'best raw λ per seed',
      'λ_norm shift (cells)',
      'raw λ shift (cells)',
    ],
    rows: budget.flatMap((b) =>
      [b.short, b.long].map((epochs) => {
        const best = b.best.filter((x) => x.epochs === epochs);
        const later = epochs === b.long;
        return [
          groupOf(b.optimizer, b.schedule),
          epochs,
          perSeed(best.map((x) => x.lr)),
          perSeed(best.map((x) => x.decay.norm)),
          perSeed(best.map((x) => x.decay.raw)),
          later ? `${estimateText(b.norm.shift)}: ${b.norm.verdict}` : '',
          later ? `${estimateText(b.raw.shift)}: ${b.raw.verdict}` : '',
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
      'cosine minus restarts (points)',
      'restarts lower on',
    ],
    rows: restarts.flatMap((r) =>
      r.points.map((p) => [
        OPTIMIZER_NAMES[r.optimizer],
        p.epoch === r.epochs ? `${p.epoch} (end)` : p.epoch,
        pct(p.cosineMean),
        pct(p.restartsMean),
        estimateText({
          ...p.paired,
          mean: p.paired.mean * 100,
          lo: p.paired.lo * 100,
          hi: p.paired.hi * 100,
        }),
        `${p.paired.positive} of ${p.paired.n} seeds`,
      ]),
    ),
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
