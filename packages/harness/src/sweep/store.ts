/**
 * The append-only result store of a sweep directory (layout and rules in types.ts, ResultStore).
 *
 * Crash safety: each record is one JSON line written by a single write() on an O_APPEND descriptor
 * and fsynced before append() resolves, so a record is either wholly there or (after a crash in the
 * middle of the write) a torn last line without a newline. Readers skip a torn line; the next
 * append first truncates it away. Where to cut is worked out in bytes, never from decoded text (a
 * non-UTF-8 byte earlier in the file would move the cut), so no record is glued to a partial line. Only one process appends at a time: the sweep driver holds
 * <dir>/sweep.lock (see acquireSweepLock), which a dead holder's successor may take over.
 */

import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../experiments/atomic-file.js';
import type { ResultStore, TrialResult } from './types.js';

export const RESULTS_FILE = 'results.jsonl';
export const SPEC_FILE = 'spec.json';
/** The expanded trials of the latest run (id, params, config), for reports. */
export const TRIALS_FILE = 'trials.json';
export const LOCK_FILE = 'sweep.lock';
const NEWLINE = 0x0a;

/**
 * Parses results.jsonl: complete lines only; a torn last line (no newline yet) or a garbled line
 * (not UTF-8, not JSON, no trialId) is skipped. Works on bytes: `validBytes` is the byte length up
 * to and including the last newline, where the next append must start.
 */
export function parseResults(content: string | Uint8Array): {
  records: TrialResult[];
  validBytes: number;
} {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const records: TrialResult[] = [];
  let start = 0;
  for (let end = bytes.indexOf(NEWLINE); end >= 0; end = bytes.indexOf(NEWLINE, start)) {
    const line = bytes.subarray(start, end);
    start = end + 1;
    try {
      const record = JSON.parse(decoder.decode(line)) as TrialResult;
      if (record && typeof record.trialId === 'string') records.push(record);
    } catch {
      // A blank line, or one garbled by something other than us: not ours to delete; keep going.
    }
  }
  return { records, validBytes: start };
}

/** Keeps the latest record per trial id, ordered by first appearance. */
export function latestPerTrial(records: TrialResult[]): TrialResult[] {
  const byId = new Map<string, TrialResult>();
  for (const r of records) {
    const prev = byId.get(r.trialId);
    if (!prev || supersedes(r, prev)) byId.set(r.trialId, r);
  }
  return [...byId.values()];
}

/** Whether `next` may replace `prev`: only a retry (higher attempt) of a failed trial. */
export function supersedes(next: TrialResult, prev: TrialResult): boolean {
  return prev.status === 'failed' && next.attempt > prev.attempt;
}

export class JsonlResultStore implements ResultStore {
  readonly dir: string;
  private readonly file: string;
  private latest = new Map<string, TrialResult>();
  /** The file as last read or written here: its size, and the bytes up to its last whole line. */
  private seen = { size: 0, validBytes: 0 };
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string) {
    this.dir = dir;
    this.file = join(dir, RESULTS_FILE);
  }

  /** Opens (creating if needed) the store in `dir`. */
  static async open(dir: string): Promise<JsonlResultStore> {
    await mkdir(join(dir, 'trials'), { recursive: true });
    const store = new JsonlResultStore(dir);
    await store.refresh();
    return store;
  }

  private async readBytes(): Promise<Uint8Array> {
    try {
      return await readFile(this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Uint8Array(0);
      throw error;
    }
  }

  private async refresh(): Promise<void> {
    const bytes = await this.readBytes();
    const { records, validBytes } = parseResults(bytes);
    this.latest = new Map(latestPerTrial(records).map((r) => [r.trialId, r]));
    this.seen = { size: bytes.length, validBytes };
  }

  async results(): Promise<TrialResult[]> {
    const { records } = parseResults(await this.readBytes());
    return latestPerTrial(records);
  }

  async finishedIds(): Promise<Set<string>> {
    return new Set((await this.results()).map((r) => r.trialId));
  }

  /** Ids whose latest record is 'failed' (candidates for --retry-failed). */
  async failedIds(): Promise<Set<string>> {
    return new Set(
      (await this.results()).filter((r) => r.status === 'failed').map((r) => r.trialId),
    );
  }

  trialDir(trialId: string): string {
    return join(this.dir, 'trials', trialId);
  }

  append(result: TrialResult): Promise<boolean> {
    // Serialize appends from this process, so the dedup check and the write cannot interleave.
    const next = this.queue.then(() => this.appendNow(result));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async appendNow(result: TrialResult): Promise<boolean> {
    const handle = await open(this.file, 'a+');
    try {
      // Re-read only when the file is not as this store left it (a writer that ignored the lock),
      // so a sweep of n trials reads its results once, not n times.
      if ((await handle.stat()).size !== this.seen.size) await this.refresh();
      const prev = this.latest.get(result.trialId);
      if (prev && !supersedes(result, prev)) return false;
      const { size, validBytes } = this.seen;
      // Never append after a partial line: cut a torn tail (bytes after the last newline) first.
      if (validBytes < size) await handle.truncate(validBytes);
      const line = Buffer.from(`${JSON.stringify(result)}\n`);
      await handle.write(line);
      await handle.sync();
      this.seen = { size: validBytes + line.length, validBytes: validBytes + line.length };
    } finally {
      await handle.close();
    }
    this.latest.set(result.trialId, result);
    return true;
  }
}

/** The sweep directory is held by another live driver. */
export class SweepLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepLockedError';
  }
}

/** Details of the process holding a sweep directory. */
export interface LockInfo {
  pid: number;
  host: string;
  since: string;
}

/**
 * Takes the sweep directory's lock (one driver appends at a time). A lock left by a dead process on
 * this host is taken over; a live holder, or one on another host, makes this throw.
 * Returns the release function.
 */
export async function acquireSweepLock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, JSON.stringify(info), { flag: 'wx' });
      return async () => {
        await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder: LockInfo | undefined;
      try {
        holder = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
      } catch {
        holder = undefined;
      }
      const stale = holder
        ? holder.host === info.host && !processAlive(holder.pid)
        : Date.now() - (await stat(path)).mtimeMs > 60_000;
      if (!stale) {
        throw new SweepLockedError(
          `sweep directory ${dir} is in use by pid ${holder?.pid} on ${holder?.host} since ` +
            `${holder?.since}; wait for it or remove ${path} if that process is gone`,
        );
      }
      await rm(path, { force: true });
    }
  }
  throw new Error(`could not take the lock ${path}`);
}
