/**
 * Atomic file replacement, for every file that must survive a kill at any moment (checkpoints,
 * metrics, results, sweep specs, reports): write a temp file in the same directory, fsync it,
 * rename it over the target, then fsync the directory so the rename itself is durable. A reader
 * sees either the old file or the new one, never a torn one.
 *
 * A kill between the open and the rename leaves the temp file, `<target>.<host>~<pid>-<thread>-
 * <n>.tmp`. `removeStaleTempFiles(dir)` deletes those whose writer is gone: written on this host by
 * a process that no longer exists. A live writer's temp file, or another host's (a shared sweep
 * directory), is never touched. Names of the format before the host was added
 * (`<target>.<pid>-<thread>-<n>.tmp`) are removed when their pid is dead here and they have not
 * changed for STALE_LEGACY_MS, since their host is unknown.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';

let counter = 0;

/** Host names may hold dots, not the separators of the temp-file name. */
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_');
const TEMP_NAME = /^.+\.([A-Za-z0-9_-]+)~(\d+)-\d+-\d+\.tmp$/;
const LEGACY_TEMP_NAME = /^.+\.(\d+)-\d+-\d+\.tmp$/;
const STALE_LEGACY_MS = 60_000;

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  // Unique per host, process, thread and call, so concurrent writers never share a temp file.
  const tmp = `${path}.${HOST}~${process.pid}-${threadId}-${counter++}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true }); // a failed write (disk full) leaves no temp file behind
    throw error;
  }
  try {
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  }
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes the temp files in `dir` left by writeFileAtomic writers that died (see the module doc);
 * returns their names. A missing directory has none.
 */
export function removeStaleTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!isStaleTemp(join(dir, name), name)) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function isStaleTemp(path: string, name: string): boolean {
  const current = TEMP_NAME.exec(name);
  if (current) return current[1] === HOST && !processAlive(Number(current[2]));
  const legacy = LEGACY_TEMP_NAME.exec(name);
  if (!legacy || processAlive(Number(legacy[1]))) return false;
  try {
    return Date.now() - statSync(path).mtimeMs > STALE_LEGACY_MS;
  } catch {
    return false;
  }
}
