/**
 * The report of a run of several sweeps under one directory, as `decoupled reproduce` leaves a
 * preset of several stages (medium: grid/, seeds/, budget/, restarts/). Each stage keeps its own
 * report; this page answers each of the paper's claims once, from the evidence of the whole run:
 * - a claim several stages address is answered by the one with the most seeds behind its verdict
 *   (medium: generalization from seeds/, 5 paired seeds, not grid/'s 1); ties go to the first stage;
 *   the effect of decay (best decay against none) is taken apart from the optimizer comparison,
 *   since only a sweep with a decay-0 column measures it (medium: grid/);
 * - the warm-restart claim may take its restarted runs from one stage and the cosine runs of the
 *   same optimizer and configuration (all but schedule, lr, decay and seed) from another (medium:
 *   restarts/ against grid/'s AdamW-cosine): the two sets are analysed together, as one sweep;
 * - a claim no stage addresses carries the first stage's reason.
 * Nothing is recomputed here: every number and sentence comes from summarize() and the claims'
 * own describe and section code, so a stage's page and this one cannot disagree.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { canonicalJson } from '../experiments/config.js';
import { PRESETS } from '../sweep/presets.js';
import { SPEC_FILE } from '../sweep/store.js';
import type { Trial } from '../sweep/types.js';
import { claimFindings, type Source } from './claims/describe.js';
import type { ClaimKey, ClaimsSummary } from './claims/index.js';
import type { HtmlSection } from './html.js';
import { type LoadedSweep, loadSweep, type ReportRecord } from './load.js';
import { describeSetup, type PageInput } from './page.js';
import { type ReportSummary, summarize } from './summary.js';

/** One stage of a run: its directory name, what it loaded and its analysis. */
export interface Stage {
  dir: string;
  loaded: LoadedSweep;
  main: ReturnType<typeof summarize>;
  summary: ReportSummary;
}

export interface RunSummary {
  name: string;
  stages: { dir: string; name: string; trials: ReportSummary['trials'] }[];
  /** Each claim's analysis, from the stage(s) named in `from`. */
  claims: ClaimsSummary;
  from: Partial<Record<Source, string>>;
  /** The claims' verdicts, as on the page and printed by the CLI. */
  claimFindings: string[];
  /** The stages' other findings, each once, with the stages it holds for. */
  findings: string[];
}

/** Stage directories in the presets' order (grid, seeds, budget, restarts), then by name. */
export function stageDirs(root: string): string[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) return [];
  const order = [...new Set(Object.values(PRESETS).flatMap((p) => p.stages.map((s) => s.dir)))];
  const rank = (d: string) => (order.includes(d) ? order.indexOf(d) : order.length);
  return readdirSync(root)
    .filter((d) => existsSync(join(root, d, SPEC_FILE)))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Loads and summarizes every stage of the run in `root`. */
export async function loadStages(root: string, warn: (message: string) => void): Promise<Stage[]> {
  const stages: Stage[] = [];
  for (const dir of stageDirs(root)) {
    const loaded = await loadSweep(join(root, dir));
    for (const w of loaded.warnings) warn(w);
    const main = summarize(loaded.spec, loaded.trials, loaded.results, loaded.warnings);
    stages.push({ dir, loaded, main, summary: main.summary });
  }
  return stages;
}

/** How many seeds stand behind a claim's verdicts (0 when not analyzed). */
function seedsBehind(claims: ClaimsSummary, key: ClaimKey): number {
  const c = claims[key];
  if (c.status !== 'analyzed') return 0;
  const most = (ns: number[]) => Math.max(0, ...ns);
  switch (key) {
    case 'generalization': {
      const g = claims.generalization;
      return g.status === 'analyzed' ? most(g.result.comparisons.map((x) => x.paired.n)) : 0;
    }
    case 'separable': {
      const s = claims.separable;
      return s.status === 'analyzed' ? most(s.result.slopes.map((x) => x.seeds.length)) : 0;
    }
    case 'budget': {
      const b = claims.budget;
      return b.status === 'analyzed' ? most(b.result.map((x) => x.norm.shift.n)) : 0;
    }
    case 'restarts': {
      const r = claims.restarts;
      return r.status === 'analyzed'
        ? most(r.result.flatMap((x) => x.points.map((p) => p.paired.n)))
        : 0;
    }
  }
}

/** A trial's configuration without what a grid varies, to match runs across stages. */
function setupOf(t: Trial): string {
  const {
    optimizer: _o,
    lr: _l,
    weightDecay: _w,
    seed: _s,
    schedule: _sc,
    dataDir: _d,
    threads: _t,
    ...rest
  } = t.config;
  return canonicalJson(rest);
}

/**
 * The restart claim from two stages: `restarted`'s warm-restart runs with the cosine runs of the
 * same optimizer and setup in the stage that has most of them. Undefined when no stage has them.
 */
function crossStageRestarts(stages: Stage[]): { claims: ClaimsSummary; from: string } | undefined {
  for (const restarted of stages) {
    const runs = restarted.loaded.trials.filter((t) => t.params.schedule === 'warm-restarts');
    const setups = new Set(runs.map(setupOf));
    const optimizers = new Set(runs.map((t) => t.params.optimizer));
    const cosineOf = (s: Stage) =>
      s.loaded.trials.filter(
        (t) =>
          t.params.schedule === 'cosine' &&
          optimizers.has(t.params.optimizer) &&
          setups.has(setupOf(t)),
      );
    const [baseline] = stages
      .filter((s) => s !== restarted)
      .map((s) => ({ s, cosine: cosineOf(s) }))
      .filter((x) => x.cosine.length)
      .sort((a, b) => b.cosine.length - a.cosine.length);
    if (!runs.length || !baseline) continue;
    const trials = [...runs, ...baseline.cosine];
    const ids = new Set(trials.map((t) => t.id));
    const results: ReportRecord[] = [...restarted.loaded.results, ...baseline.s.loaded.results];
    const { summary } = summarize(
      restarted.loaded.spec,
      trials,
      results.filter((r) => ids.has(r.trialId)),
    );
    if (summary.claims.restarts.status === 'analyzed') {
      return {
        claims: summary.claims,
        from: `${restarted.dir}/ with the cosine runs of ${baseline.s.dir}/`,
      };
    }
  }
  return undefined;
}

const CLAIM_KEYS: ClaimKey[] = ['generalization', 'separable', 'budget', 'restarts'];

/** Each claim from the stage with the most seeds behind it (see the module comment). */
export function chooseClaims(stages: Stage[]): Pick<RunSummary, 'claims' | 'from'> {
  const claims = { ...stages[0].summary.claims };
  const from: RunSummary['from'] = {};
  for (const key of CLAIM_KEYS) {
    const [best] = stages
      .map((s) => ({ s, n: seedsBehind(s.summary.claims, key) }))
      .filter((x) => x.s.summary.claims[key].status === 'analyzed')
      .sort((a, b) => b.n - a.n);
    if (best) {
      Object.assign(claims, { [key]: best.s.summary.claims[key] });
      from[key] = `${best.s.dir}/`;
    }
  }
  withDecayEffects(stages, claims, from);
  if (claims.restarts.status === 'missing') {
    const cross = crossStageRestarts(stages);
    if (cross) {
      claims.restarts = cross.claims.restarts;
      from.restarts = cross.from;
    }
  }
  return { claims, from };
}

/** The effect of decay from the stage with most seeds behind it, if the chosen stage has none. */
function withDecayEffects(stages: Stage[], claims: ClaimsSummary, from: RunSummary['from']) {
  const g = claims.generalization;
  if (g.status === 'analyzed' && g.result.decayEffects.length) {
    from.decayEffects = from.generalization;
    return;
  }
  const [best] = stages
    .flatMap((s) => {
      const own = s.summary.claims.generalization;
      return own.status === 'analyzed' && own.result.decayEffects.length
        ? [{ s, effects: own.result.decayEffects }]
        : [];
    })
    .sort(
      (a, b) =>
        Math.max(...b.effects.map((e) => e.paired.n)) -
        Math.max(...a.effects.map((e) => e.paired.n)),
    );
  if (!best) return;
  const comparisons = g.status === 'analyzed' ? g.result.comparisons : [];
  claims.generalization = {
    status: 'analyzed',
    result: { comparisons, decayEffects: best.effects },
  };
  from.decayEffects = `${best.s.dir}/`;
}

/** Each stage's sentences, each sentence once, prefixed by its stages unless all share it. */
function onceAcross(stages: Stage[], sentences: (s: Stage) => string[]): string[] {
  const where = new Map<string, string[]>();
  for (const s of stages) {
    for (const f of sentences(s)) where.set(f, [...(where.get(f) ?? []), `${s.dir}/`]);
  }
  return [...where].map(([f, dirs]) =>
    dirs.length === stages.length ? f : `${dirs.join(', ')}: ${f}`,
  );
}

/** The run's numbers and sentences. */
export function summarizeRun(name: string, stages: Stage[]): RunSummary {
  const { claims, from } = chooseClaims(stages);
  return {
    name,
    stages: stages.map((s) => ({ dir: s.dir, name: s.summary.name, trials: s.summary.trials })),
    claims,
    from,
    claimFindings: claimFindings(claims, { from }),
    findings: onceAcross(stages, (s) => s.summary.findings),
  };
}

/**
 * The claims' page input: the run's claims and sentences over every stage's trials and records
 * (trial ids are unique across stages: they hash each run's whole configuration).
 */
export function runPageInput(run: RunSummary, stages: Stage[], top: number): PageInput {
  const [first] = stages;
  return {
    summary: {
      ...first.summary,
      name: run.name,
      groups: stages.flatMap((s) => s.summary.groups),
      claims: run.claims,
      claimFindings: run.claimFindings,
      findings: run.findings,
    },
    cells: [],
    trials: stages.flatMap((s) => s.loaded.trials),
    results: stages.flatMap((s) => s.loaded.results),
    top,
  };
}

const SWEEPS_TEXT =
  "The run's sweeps, in the order they ran. Each has its own report, with its heatmaps, learning curves and every trial; this page answers each of the paper's claims once, from the sweep with the most seeds behind it, and names that sweep.";

/** The run's page, less the claims' sections (claims/sections.ts), which go in the middle. */
export function runSections(
  run: RunSummary,
  stages: Stage[],
  out: string,
  root: string,
  claims: HtmlSection[],
): HtmlSection[] {
  const t = (s: Stage) => s.summary.trials;
  // Setup without its last line, the counts: the table has them, each sweep's report its noise.
  const setup = onceAcross(stages, (s) => describeSetup(s.summary, s.loaded.trials).slice(0, -1));
  return [
    { title: 'Setup', bullets: setup },
    {
      title: 'Sweeps',
      paragraphs: [SWEEPS_TEXT],
      table: {
        head: [
          'directory',
          'sweep',
          'trials',
          'finished',
          'diverged',
          'pruned',
          'failed',
          'no result',
        ],
        rows: stages.map((s) => [
          `${s.dir}/`,
          s.summary.name,
          t(s).total,
          t(s).ok,
          t(s).diverged,
          t(s).pruned,
          t(s).failed,
          t(s).pending,
        ]),
      },
      links: stages.map((s) => ({
        text: `${s.dir}/: its report`,
        href: relative(out, join(root, s.dir, 'report', 'index.html')),
      })),
    },
    ...claims,
    { title: 'What the data shows', bullets: run.findings },
  ];
}
