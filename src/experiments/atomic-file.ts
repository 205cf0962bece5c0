/**
 * Atomic file replacement, for every file that must survive a kill at any moment (checkpoints,
 * metrics, results, sweep specs, reports): write a temp file in the same directory, fsync it,
 * rename it over the target, then fsync the directory so the rename itself is durable. A reader
 * sees either the old file or the new one, never a torn one.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { threadId } from 'node:worker_threads';

let counter = 0;

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  // Unique per process, thread and call, so concurrent writers never share a temp file.
  const tmp = `${path}.${process.pid}-${threadId}-${counter++}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
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
