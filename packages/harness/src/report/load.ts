/**
 * Reads a sweep directory for the report, validating every file as it is read (zod schemas):
 * - spec.json: required. Missing, not JSON, or not a valid spec (including a base that no trial
 *   config accepts) stops the report with a SweepFileError naming the file and the field.
 * - trials.json: the trials as the sweep expanded them. Missing (older directories): the spec is
 *   expanded again. Damaged (not JSON, a malformed entry, a config the training schema rejects, an
 *   id that is not the hash of its params and config, params that disagree with the config, a
 *   repeated id): a warning, and the spec is expanded again, which yields the same trials when the
 *   same version of decoupled wrote them.
 * - results.jsonl: read through the result store (its rules for torn lines and retries). Every
 *   record is validated; a bad one is skipped with a warning naming the file and line, and its trial
 *   counts as having no result. A record is bad when a required field is missing or has the wrong
 *   type, when an 'ok' record has no final values (unless it diverged before its first epoch ended)
 *   or, unless diverged, non-finite ones, or when its params disagree with the trial its id names.
 * Warnings go to `warn` and into the report itself.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ZodError, z } from 'zod';
import { TrainConfigSchema } from '../experiments/config.js';
import { expandGrid, type ParsedSweepSpec, SweepSpecSchema, trialId } from '../sweep/spec.js';
import { JsonlResultStore, RESULTS_FILE, SPEC_FILE, TRIALS_FILE } from '../sweep/store.js';
import {
  SWEEP_OPTIMIZERS,
  SWEEP_SCHEDULES,
  type SweepSpec,
  type Trial,
  type TrialParams,
  type TrialResult,
} from '../sweep/types.js';
import { SweepFileError } from './errors.js';

/** A result's final values; `valError` when the trial measured a validation split. */
export type RecordFinal = NonNullable<TrialResult['final']> & { valError?: number };

/** A validated results.jsonl record (JSON null read as NaN). */
export interface ReportRecord extends Omit<TrialResult, 'final'> {
  final?: RecordFinal;
}

export interface LoadedSweep {
  spec: SweepSpec & ParsedSweepSpec;
  trials: Trial[];
  /** Valid records of this spec's trials, the latest per trial. */
  results: ReportRecord[];
  /** One line per damaged file or record, naming it and what was done. */
  warnings: string[];
}

/** A JSON number, or null (how JSON.stringify writes NaN, e.g. a diverged loss), read as NaN. */
const measured = z
  .number()
  .nullable()
  .transform((v) => v ?? Number.NaN);

const ParamsSchema = z.object({
  optimizer: z.enum(SWEEP_OPTIMIZERS),
  lr: z.number().positive(),
  weightDecay: z.number().nonnegative(),
  schedule: z.enum(SWEEP_SCHEDULES),
  seed: z.number().int().nonnegative(),
  /** Set by an epochs axis (it is part of the trial's id). */
  epochs: z.number().int().positive().optional(),
});

const EpochSchema = z.object({
  epoch: z.number().int().positive(),
  trainLoss: measured,
  trainError: measured,
  testError: measured,
  wallTimeMs: z.number().nonnegative(),
});

const FinalSchema = z.object({
  trainLoss: measured,
  trainError: measured,
  testError: measured,
  valError: measured.optional(),
});

export const RecordSchema = z
  .object({
    trialId: z.string().min(1),
    params: ParamsSchema,
    status: z.enum(['ok', 'failed']),
    error: z.string().optional(),
    epochs: z.array(EpochSchema),
    diverged: z.boolean().optional(),
    pruned: z.boolean().optional(),
    final: FinalSchema.optional(),
    wallTimeMs: z.number().nonnegative(),
    attempt: z.number().int().positive(),
    worker: z.string().optional(),
    finishedAt: z.string(),
  })
  .superRefine((r, ctx) => {
    if (r.status !== 'ok') return;
    if (!r.final) {
      // A run that diverged during its first epoch has no epoch to take final values from.
      if (r.diverged && r.epochs.length === 0) return;
      ctx.addIssue({ code: 'custom', path: ['final'], message: "missing in an 'ok' record" });
    } else if (!r.diverged) {
      for (const key of ['trainLoss', 'testError'] as const) {
        if (!Number.isFinite(r.final[key])) {
          ctx.addIssue({
            code: 'custom',
            path: ['final', key],
            message: 'not a finite number in a record that did not diverge',
          });
        }
      }
    }
  });

const TrialSchema = z
  .object({
    id: z.string().min(1),
    index: z.number().int().nonnegative(),
    params: ParamsSchema,
    config: z.record(z.string(), z.unknown()),
    epochs: z.number().int().positive().optional(),
  })
  .superRefine((t, ctx) => {
    const config = TrainConfigSchema.safeParse(t.config);
    if (!config.success) {
      ctx.addIssue({ code: 'custom', path: ['config'], message: describeIssues(config.error) });
      return;
    }
    if (t.id !== trialId(t.params, t.config)) {
      ctx.addIssue({
        code: 'custom',
        path: ['id'],
        message: 'does not match its params and config',
      });
    }
    for (const key of ['optimizer', 'lr', 'weightDecay', 'seed'] as const) {
      if (t.config[key] !== t.params[key]) {
        ctx.addIssue({
          code: 'custom',
          path: ['config', key],
          message: `${JSON.stringify(t.config[key])} differs from params.${key} ${JSON.stringify(t.params[key])}`,
        });
      }
    }
  });

const TrialsSchema = z.array(TrialSchema).superRefine((trials, ctx) => {
  const seen = new Set<string>();
  trials.forEach((t, i) => {
    if (seen.has(t.id)) {
      ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `repeats ${t.id}` });
    }
    seen.add(t.id);
  });
});

/** "final.trainLoss: Invalid input: expected number, received undefined" (the first issue). */
export function describeIssues(error: ZodError): string {
  const [first] = error.issues;
  const where = first.path.length ? `${first.path.join('.')}: ` : '';
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problems)` : '';
  return `${where}${first.message}${more}`;
}

/** Parses JSON, or describes why it is not JSON. */
function parseJson(text: string): { value: unknown } | { problem: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    // V8 quotes the text around the error over several lines; the message must stay one line.
    const message = (error as Error).message.replace(/\s+/g, ' ').slice(0, 160);
    return { problem: `not valid JSON (${message})` };
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** spec.json, validated; every problem stops the report. */
async function loadSpec(dir: string): Promise<SweepSpec & ParsedSweepSpec> {
  const text = await readText(join(dir, SPEC_FILE));
  if (text === undefined) {
    throw new SweepFileError(
      join(dir, SPEC_FILE),
      'missing, so this is not a sweep directory (run `decoupled sweep` first)',
    );
  }
  const json = parseJson(text);
  if ('problem' in json) throw new SweepFileError(join(dir, SPEC_FILE), json.problem);
  const parsed = SweepSpecSchema.safeParse(json.value);
  if (!parsed.success) {
    throw new SweepFileError(join(dir, SPEC_FILE), describeIssues(parsed.error));
  }
  return parsed.data as SweepSpec & ParsedSweepSpec;
}

/** Validates the spec's trial configs (a damaged base); throws a SweepFileError. */
function expandSpec(dir: string, spec: SweepSpec & ParsedSweepSpec): Trial[] {
  try {
    return expandGrid(spec);
  } catch (error) {
    if ((error as Error).name !== 'ZodError') throw error;
    throw new SweepFileError(join(dir, SPEC_FILE), describeIssues(error as ZodError));
  }
}

/** trials.json, or the spec expanded again (with a warning when trials.json is damaged). */
async function loadTrials(dir: string, expanded: Trial[], warnings: string[]): Promise<Trial[]> {
  const text = await readText(join(dir, TRIALS_FILE));
  if (text === undefined) return expanded;
  const json = parseJson(text);
  const parsed = 'problem' in json ? undefined : TrialsSchema.safeParse(json.value);
  if (parsed?.success) return parsed.data as Trial[];
  const problem = parsed ? describeIssues(parsed.error) : (json as { problem: string }).problem;
  warnings.push(
    `${join(dir, TRIALS_FILE)}: ${problem}; using the trials expanded again from ${SPEC_FILE} instead`,
  );
  return expanded;
}

const sameParams = (a: TrialParams, b: TrialParams) =>
  a.optimizer === b.optimizer &&
  a.lr === b.lr &&
  a.weightDecay === b.weightDecay &&
  a.schedule === b.schedule &&
  a.seed === b.seed &&
  a.epochs === b.epochs;

/**
 * Warnings for the lines of results.jsonl that are not valid records (the store skips a torn last
 * line and unparsable lines silently; the report says which lines it did not use, and why).
 */
function scanResultLines(file: string, text: string, trials: Map<string, Trial>): string[] {
  const warnings: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${file} line ${i + 1}`;
    if (i === lines.length - 1) {
      warnings.push(`${where}: incomplete (no newline: a write cut short); ignored`);
      return;
    }
    const json = parseJson(line);
    if ('problem' in json) {
      warnings.push(`${where}: ${json.problem}; record skipped`);
      return;
    }
    const record = RecordSchema.safeParse(json.value);
    if (!record.success) {
      warnings.push(`${where}: ${describeIssues(record.error)}; record skipped`);
      return;
    }
    const trial = trials.get(record.data.trialId);
    if (trial && !sameParams(trial.params, record.data.params)) {
      warnings.push(`${where}: params disagree with trial ${trial.id}; record skipped`);
    }
  });
  return warnings;
}

/** The valid records of `trials` (the store's latest per trial), and warnings for the rest. */
async function loadResults(
  dir: string,
  trials: Trial[],
): Promise<{ results: ReportRecord[]; warnings: string[] }> {
  const byId = new Map(trials.map((t) => [t.id, t]));
  const text = (await readText(join(dir, RESULTS_FILE))) ?? '';
  const warnings = scanResultLines(join(dir, RESULTS_FILE), text, byId);
  const store = await JsonlResultStore.open(dir);
  const results: ReportRecord[] = [];
  for (const raw of await store.results()) {
    const trial = byId.get(raw.trialId);
    if (!trial) continue; // a trial of an earlier spec in this directory
    const record = RecordSchema.safeParse(raw);
    if (record.success && sameParams(trial.params, record.data.params)) {
      results.push(record.data);
    }
  }
  return { results, warnings };
}

/** Reads and validates a sweep directory (see the module comment). */
export async function loadSweep(dir: string): Promise<LoadedSweep> {
  const spec = await loadSpec(dir);
  const warnings: string[] = [];
  const trials = await loadTrials(dir, expandSpec(dir, spec), warnings);
  const loaded = await loadResults(dir, trials);
  return { spec, trials, results: loaded.results, warnings: [...warnings, ...loaded.warnings] };
}
