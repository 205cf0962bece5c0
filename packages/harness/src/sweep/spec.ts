/**
 * Sweep specs: the zod schema (a JSON or YAML file, or CLI flags), loading, and grid expansion.
 *
 * Trials = optimizer x lr x weightDecay x schedule x seed [x epochs] (Cartesian product), where an optimizer
 * may replace any axis with its own values (`perOptimizer`), because an L2 factor for Adam and a
 * decoupled lambda (or lambda_norm) for AdamW live on different scales. Each trial's training config
 * is `base` + its coordinates, validated by the experiment harness's TrainConfig schema; its id is a
 * readable prefix plus a hash of that config as written (defaults not filled in), so the same spec
 * always yields the same ids, also after the training schema gains new defaulted fields. The
 * optional epochs axis (training lengths, e.g. E and 3E for the budget claim) overrides the base's
 * epochs per trial; a spec without it writes no per-trial epochs, so its ids are those it always had.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  canonicalJson,
  type ScheduleConfig,
  ScheduleConfigSchema,
  TrainConfigSchema,
} from '../experiments/config.js';
import {
  SWEEP_OPTIMIZERS,
  SWEEP_SCHEDULES,
  type SweepOptimizer,
  type SweepSchedule,
  type SweepSpec,
  type Trial,
  type TrialParams,
} from './types.js';

const axisNumbers = z.array(z.number().finite().nonnegative()).min(1);
const axisLr = z.array(z.number().finite().positive()).min(1);
const axisSeeds = z.array(z.number().int().nonnegative()).min(1);
const axisSchedules = z.array(z.enum(SWEEP_SCHEDULES)).min(1);
const axisEpochs = z.array(z.number().int().min(1)).min(1);

const OverrideSchema = z.strictObject({
  /** Training settings merged over `base` for this optimizer (e.g. weightDecayNorm for adamw). */
  base: z.record(z.string(), z.unknown()).optional(),
  lr: axisLr.optional(),
  weightDecay: axisNumbers.optional(),
  schedule: axisSchedules.optional(),
  seed: axisSeeds.optional(),
  epochs: axisEpochs.optional(),
});

/** Fields of the training config that the grid sets; they may not appear in `base`. */
const SWEPT_FIELDS = ['optimizer', 'lr', 'weightDecay', 'schedule', 'seed', 'out'] as const;

export const SweepSpecSchema = z
  .strictObject({
    name: z.string().min(1).default('sweep'),
    base: z.record(z.string(), z.unknown()).default({}),
    grid: z.strictObject({
      optimizer: z.array(z.enum(SWEEP_OPTIMIZERS)).min(1),
      lr: axisLr,
      weightDecay: axisNumbers,
      schedule: axisSchedules.default(['cosine']),
      seed: axisSeeds.default([1]),
      /** Training lengths; absent = every trial trains the base's epochs. */
      epochs: axisEpochs.optional(),
    }),
    perOptimizer: z.partialRecord(z.enum(SWEEP_OPTIMIZERS), OverrideSchema).optional(),
    /** Parameters of named schedules; defaults derive from the epoch count (see scheduleConfig). */
    schedules: z.partialRecord(z.enum(SWEEP_SCHEDULES), ScheduleConfigSchema).optional(),
  })
  .superRefine((spec, ctx) => {
    const bases: [(string | number)[], Record<string, unknown>][] = [[['base'], spec.base]];
    for (const [name, o] of Object.entries(spec.perOptimizer ?? {})) {
      if (o?.base) bases.push([['perOptimizer', name, 'base'], o.base]);
    }
    for (const [path, base] of bases) {
      for (const key of SWEPT_FIELDS) {
        if (key in base) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, key],
            message: `'${key}' is set per trial by the grid (or the sweep directory); remove it from base`,
          });
        }
      }
    }
  });

export type SweepSpecInput = z.input<typeof SweepSpecSchema>;
export type ParsedSweepSpec = z.output<typeof SweepSpecSchema>;

/** Validates a spec object; throws a ZodError naming the bad field. */
export function parseSweepSpec(input: unknown): SweepSpec & ParsedSweepSpec {
  return SweepSpecSchema.parse(input) as SweepSpec & ParsedSweepSpec;
}

/** Reads a spec from a .json, .yaml or .yml file. */
export async function loadSweepSpec(path: string): Promise<SweepSpec & ParsedSweepSpec> {
  const text = await readFile(path, 'utf8');
  const data: unknown = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  return parseSweepSpec(data);
}

/**
 * The schedule config for a named schedule in a run of `epochs` epochs, unless the spec gives one:
 * cosine to 0; step drops x0.1 at 50% and 75%; warm restarts with T_mult = 2 and T_0 = epochs / 3,
 * so the second period ends exactly at the last epoch (the SGDR anytime property is visible).
 */
export function scheduleConfig(
  name: SweepSchedule,
  epochs: number,
  given?: Partial<Record<SweepSchedule, ScheduleConfig>>,
): ScheduleConfig {
  const explicit = given?.[name];
  if (explicit) return explicit;
  switch (name) {
    case 'constant':
      return { kind: 'constant' };
    case 'cosine':
      return { kind: 'cosine', min: 0 };
    case 'step':
      return { kind: 'step', milestones: [epochs * 0.5, epochs * 0.75], gamma: 0.1 };
    case 'warm-restarts':
      return { kind: 'warm-restarts', t0: epochs / 3, tMult: 2, min: 0 };
  }
}

/**
 * Readable, filesystem-safe trial id: `adamw_lr0.001_wd0.05_cosine_s1_<hash8>`, with `_e<epochs>`
 * before the hash when the trial comes from an epochs axis.
 */
export function trialId(params: TrialParams, config: Record<string, unknown>): string {
  // Where the data lives and how many threads run it differ between machines; neither changes
  // the trial's numbers.
  const { dataDir: _where, threads: _threads, ...hashed } = config;
  const hash = createHash('sha256').update(canonicalJson(hashed)).digest('hex').slice(0, 8);
  const num = (x: number) => String(x).replace(/\+/g, '');
  const length = params.epochs === undefined ? '' : `_e${params.epochs}`;
  return `${params.optimizer}_lr${num(params.lr)}_wd${num(params.weightDecay)}_${params.schedule}_s${params.seed}${length}_${hash}`;
}

/** The axes an optimizer actually sweeps, after its overrides. */
export function axesFor(spec: SweepSpec, optimizer: SweepOptimizer) {
  const o = spec.perOptimizer?.[optimizer] ?? {};
  return {
    base: { ...spec.base, ...(o.base ?? {}) },
    lr: o.lr ?? spec.grid.lr,
    weightDecay: o.weightDecay ?? spec.grid.weightDecay,
    schedule: o.schedule ?? spec.grid.schedule,
    seed: o.seed ?? spec.grid.seed,
    /** undefined = no epochs axis: the base's epochs, not written per trial. */
    epochs: o.epochs ?? spec.grid.epochs,
  };
}

/**
 * Expands a spec into its trials, in a stable run order (see the end of the function).
 * Every trial config is validated here, so a bad `base` fails before any training starts.
 * Duplicate coordinates (e.g. a value listed twice) collapse into one trial.
 */
export function expandGrid(
  spec: SweepSpec & { schedules?: ParsedSweepSpec['schedules'] },
): Trial[] {
  const trials: Trial[] = [];
  const seen = new Set<string>();
  const order = new Map<string, [number, number, number]>();
  for (const optimizer of spec.grid.optimizer) {
    const axes = axesFor(spec, optimizer);
    let cellIndex = 0;
    const lengths: (number | undefined)[] = axes.epochs ?? [undefined];
    for (const epochsAxis of lengths) {
      const base = epochsAxis === undefined ? axes.base : { ...axes.base, epochs: epochsAxis };
      const epochs = TrainConfigSchema.parse(base).epochs;
      for (const schedule of axes.schedule) {
        for (const lr of axes.lr) {
          for (const weightDecay of axes.weightDecay) {
            const cell = cellIndex++;
            for (const seed of axes.seed) {
              const params: TrialParams = { optimizer, lr, weightDecay, schedule, seed };
              if (epochsAxis !== undefined) params.epochs = epochsAxis;
              const trial = makeTrial(params, base, epochs, spec.schedules, trials.length);
              if (seen.has(trial.id)) continue;
              seen.add(trial.id);
              trials.push(trial);
              order.set(trial.id, [
                axes.seed.indexOf(seed),
                cell,
                spec.grid.optimizer.indexOf(optimizer),
              ]);
            }
          }
        }
      }
    }
  }
  // Run order: seed by seed, optimizers interleaved, so a sweep stopped early still has whole
  // heatmaps of every optimizer for its first seeds (the shorter length first, in the axis order).
  const key = (t: Trial) => order.get(t.id) ?? [0, 0, 0];
  trials.sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2];
  });
  return trials.map((t, index) => ({ ...t, index }));
}

/**
 * One trial: `base` + the coordinates, validated now (so a bad base fails before any training),
 * but kept as the spec says it: the executor fills defaults, and ids do not change when the
 * training schema gains a field with a default. Schedules that derive from the epoch count (step
 * milestones, warm-restart periods) are derived from this trial's `epochs`.
 */
function makeTrial(
  params: TrialParams,
  base: Record<string, unknown>,
  epochs: number,
  schedules: ParsedSweepSpec['schedules'],
  index: number,
): Trial {
  const { optimizer, lr, weightDecay, seed, schedule } = params;
  const input = {
    ...base,
    optimizer,
    lr,
    weightDecay,
    seed,
    schedule: scheduleConfig(schedule, epochs, schedules),
  };
  TrainConfigSchema.parse(input);
  const config = JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
  // The key order of trials.json (and of the report's schema), so expanded trials compare equal.
  return { id: trialId(params, config), index, params, config, epochs };
}
