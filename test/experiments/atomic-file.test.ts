/** Atomic writes, and the clean-up of temp files left by writers killed mid-write (issue #20, 8). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeStaleTempFiles, writeFileAtomic } from '#harness/experiments/atomic-file.js';
import { tempDir } from './fixtures.js';

/** The temp-file name of the module doc: <target>.<host>~<pid>-<thread>-<n>.tmp. */
const host = hostname().replace(/[^A-Za-z0-9-]/g, '_');
const temp = (target: string, pid: number, h = host) => `${target}.${h}~${pid}-0-1.tmp`;

/** A pid that existed a moment ago and is dead now. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid as number;
}

test('writeFileAtomic replaces the file and leaves no temp file', () => {
  const dir = tempDir('atomic');
  const path = join(dir, 'checkpoint.json');
  writeFileAtomic(path, 'one');
  writeFileAtomic(path, new TextEncoder().encode('two'));
  assert.equal(readFileSync(path, 'utf8'), 'two');
  assert.deepEqual(readdirSync(dir), ['checkpoint.json']);
});

test("temp files of dead writers on this host are removed; live or other hosts' are kept", () => {
  const dir = tempDir('stale');
  const dead = deadPid();
  const old = new Date(Date.now() - 10 * 60_000);
  const files = {
    deadWriter: temp('checkpoint.json', dead),
    liveWriter: temp('checkpoint.json', process.pid),
    otherHost: temp('checkpoint.json', dead, `not-${host}`),
    legacyDeadOld: `metrics.jsonl.${dead}-0-7.tmp`,
    legacyDeadRecent: `result.json.${dead}-0-8.tmp`,
    legacyLive: `config.json.${process.pid}-0-9.tmp`,
    unrelated: 'notes.tmp',
  };
  for (const name of Object.values(files)) writeFileSync(join(dir, name), 'partial');
  for (const name of [files.legacyDeadOld, files.legacyLive]) utimesSync(join(dir, name), old, old);
  const removed = removeStaleTempFiles(dir);
  assert.deepEqual(removed.sort(), [files.deadWriter, files.legacyDeadOld].sort());
  const left = readdirSync(dir).sort();
  assert.deepEqual(
    left,
    [
      files.liveWriter,
      files.otherHost,
      files.legacyDeadRecent,
      files.legacyLive,
      files.unrelated,
    ].sort(),
  );
  assert.deepEqual(removeStaleTempFiles(join(dir, 'missing')), []);
});

test('a writer killed mid-write leaves a temp file that the next start removes', () => {
  const dir = tempDir('killed');
  const target = join(dir, 'checkpoint.json');
  // A child process opens its temp file, writes part of it, and is SIGKILLed before the rename.
  const script = `
    const fs = require('node:fs');
    fs.writeFileSync(${JSON.stringify(target)} + '.${host}~' + process.pid + '-0-0.tmp', 'x'.repeat(1e5));
    process.kill(process.pid, 'SIGKILL');`;
  const child = spawnSync(process.execPath, ['-e', script]);
  assert.equal(child.signal, 'SIGKILL');
  const left = temp('checkpoint.json', child.pid as number).replace('-0-1.tmp', '-0-0.tmp');
  assert.ok(existsSync(join(dir, left)));
  assert.deepEqual(removeStaleTempFiles(dir), [left]);
  assert.deepEqual(readdirSync(dir), []);
});
