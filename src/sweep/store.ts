/**
 * The append-only result store of a sweep directory (layout and rules in types.ts, ResultStore).
 *
 * Crash safety: each record is one JSON line written by a single write() on an O_APPEND descriptor
 * and fsynced before append() resolves, so a record is either wholly there or (after a crash in the
 * middle of the write) a torn last line without a newline. Readers skip a torn line; the next
 * append first truncates it away. Only one process appends at a time: the sweep driver holds
 * <dir>/sweep.lock (see acquireSweepLock), which a dead holder's successor may take over.
 */

import { mkdir, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ResultStore, TrialResult } from './types.js';

export const RESULTS_FILE = 'results.jsonl';
export const SPEC_FILE = 'spec.json';
/** The expanded trials of the latest run (id, params, config), for reports. */
export const TRIALS_FILE = 'trials.json';
export const LOCK_FILE = 'sweep.lock';

/** Parses results.jsonl text: complete lines only; a torn or garbled line is skipped. */
export function parseResults(text: string): { records: TrialResult[]; validBytes: number } {
  const records: TrialResult[] = [];
  let offset = 0;
  let validBytes = 0;
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    if (end < 0) break; // torn tail: no newline yet
    const line = text.slice(offset, end);
    offset = end + 1;
    validBytes = Buffer.byteLength(text.slice(0, offset));
    if (!line.trim()) continue;
    try {
      const record = JSON.parse(line) as TrialResult;
      if (record && typeof record.trialId === 'string') records.push(record);
    } catch {
      // A line garbled by something other than us; keep going, it is not ours to delete.
    }
  }
  return { records, validBytes };
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

  private async readText(): Promise<string> {
    try {
      return await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw error;
    }
  }

  private async refresh(): Promise<void> {
    const text = await this.readText();
    const { records, validBytes } = parseResults(text);
    this.latest = new Map(latestPerTrial(records).map((r) => [r.trialId, r]));
    this.seen = { size: Buffer.byteLength(text), validBytes };
  }

  /** The file's size now (0 when it does not exist yet). */
  private async currentSize(): Promise<number> {
    try {
      return (await stat(this.file)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
  }

  async results(): Promise<TrialResult[]> {
    const { records } = parseResults(await this.readText());
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
    // Re-read only when the file is not as this store left it (a writer that ignored the lock),
    // so a sweep of n trials reads its results once, not n times.
    if ((await this.currentSize()) !== this.seen.size) await this.refresh();
    const prev = this.latest.get(result.trialId);
    if (prev && !supersedes(result, prev)) return false;
    const { size, validBytes } = this.seen;
    if (validBytes < size) {
      await truncate(this.file, validBytes); // drop a torn tail
      this.seen = { size: validBytes, validBytes };
    }
    const line = `${JSON.stringify(result)}\n`;
    const handle = await open(this.file, 'a');
    try {
      await handle.write(line);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const bytes = Buffer.byteLength(line);
    this.seen = { size: this.seen.size + bytes, validBytes: this.seen.validBytes + bytes };
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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
        ? holder.host === info.host && !alive(holder.pid)
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
