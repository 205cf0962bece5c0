/**
 * Helpers of the distributed-sweep tests: worker processes (the real `decoupled worker` command
 * with the synthetic executor, or the training one), tiny sweep specs, and raw reads of results.jsonl (raw, so a
 * duplicate record would show).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SweepSpec, TrialResult } from '#harness/sweep/types.js';

const here = fileURLToPath(new URL('.', import.meta.url));
/** The `decoupled` executable, compiled (packages/harness/dist/cli/main.js). */
export const CLI_MAIN = join(
  here,
  '..',
  '..',
  '..',
  'packages',
  'harness',
  'dist',
  'cli',
  'main.js',
);
export const SYNTHETIC_EXECUTOR = join(here, 'fixtures', 'synthetic-executor.js');
/** A coordinator that SIGKILLs itself after its n-th append (fixtures/crashing-coordinator.ts). */
export const CRASHING_COORDINATOR = join(here, 'fixtures', 'crashing-coordinator.js');

/** A child process whose stderr+stdout lines are kept and can be awaited. */
export class Proc {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  private readonly listeners = new Set<() => void>();
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const listener of this.listeners) listener();
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    // A test process that dies of an exception must not leave workers retrying forever.
    const reap = () => this.child.kill('SIGKILL');
    process.once('exit', reap);
    this.child.once('exit', () => process.removeListener('exit', reap));
  }

  get text(): string {
    return this.lines.join('\n');
  }

  /** Resolves with the first line matching `pattern` (past or future); rejects after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find((l) => pattern.test(l));
        if (line === undefined) return false;
        this.listeners.delete(check);
        clearTimeout(timer);
        resolve(line);
        return true;
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`no line matching ${pattern} in ${timeoutMs} ms; output:\n${this.text}`));
      }, timeoutMs);
      if (!check()) this.listeners.add(check);
    });
  }

  /** SIGKILL (a crash), resolved once the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

export interface WorkerProcOptions {
  name: string;
  concurrency?: number;
  epochMs?: number;
  /** Run real training (the default executor) instead of the synthetic one. */
  realTraining?: boolean;
  /** --queue (default: the default queue). */
  queue?: string;
  /** --lock-duration in ms (default 1000). */
  lockDurationMs?: number;
}

/**
 * `decoupled worker` with the synthetic executor and short lock/stall timings. Every worker of a
 * test gets the same short stalledInterval: the stalled check takes a Redis lock for the checking
 * worker's own interval, so one worker on the 30 s default would delay everybody's recovery.
 */
export function startWorkerProc(redisUrl: string, options: WorkerProcOptions): Proc {
  return new Proc(
    [
      CLI_MAIN,
      'worker',
      '--redis',
      redisUrl,
      '--concurrency',
      String(options.concurrency ?? 1),
      '--name',
      options.name,
      ...(options.realTraining ? [] : ['--executor', SYNTHETIC_EXECUTOR]),
      ...(options.queue ? ['--queue', options.queue] : []),
      '--lock-duration',
      String(options.lockDurationMs ?? 1000),
      '--stalled-interval',
      '500',
    ],
    { DECOUPLED_SYNTH_EPOCH_MS: String(options.epochMs ?? 150) },
  );
}

/** A sweep of `lrs.length * 2` trials (adamw and sgdw) of `epochs` epochs each. */
export function tinySpec(name: string, lrs: number[], epochs: number): SweepSpec {
  return {
    name,
    base: { epochs },
    grid: {
      optimizer: ['adamw', 'sgdw'],
      lr: lrs,
      weightDecay: [0.01],
      schedule: ['constant'],
      seed: [1],
    },
  };
}

/** Every record line of results.jsonl, duplicates included. */
export async function rawResults(dir: string): Promise<TrialResult[]> {
  let text = '';
  try {
    text = await readFile(join(dir, 'results.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as TrialResult);
}

/** Lines `<epoch> <pid>` the synthetic executor appended for each epoch it ran in a trial dir. */
export async function epochLog(trialDir: string): Promise<{ epoch: number; pid: number }[]> {
  let text = '';
  try {
    text = await readFile(join(trialDir, 'epochs.log'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [epoch, pid] = l.split(' ').map(Number);
      return { epoch, pid };
    });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it returns true; rejects after timeoutMs with `what`. */
export async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
