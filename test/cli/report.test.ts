/** `decoupled report` through the real executable. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeSyntheticSweep } from '../helpers/report-fixture.js';

const MAIN = fileURLToPath(new URL('../../../packages/harness/dist/cli/main.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

test('report prints its findings, the per-claim verdicts and where the page is', async () => {
  const { dir } = await writeSyntheticSweep();
  const out = join(mkdtempSync(join(tmpdir(), 'cli-report-')), 'out');
  const r = run('report', dir, '--out', out, '--top', '2');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /What the data shows:/);
  assert.match(r.stdout, /AdamW vs Adam\+L2 \(cosine\)/);
  // The per-claim verdicts follow the findings, one line per claim.
  const claims = r.stdout.split("The paper's claims:\n")[1] ?? '';
  assert.match(claims, /^- Generalization: AdamW vs Adam\+L2 \(cosine\)/m);
  assert.match(claims, /^- Separable lr and decay: AdamW \(cosine\): slope/m);
  assert.match(claims, /^- Warm restarts and anytime performance: this sweep cannot address it/m);
  assert.match(
    r.stdout,
    new RegExp(`report: ${join(out, 'index.html').replace(/[.]/g, '\\.')}$`, 'm'),
  );
  assert.ok(existsSync(join(out, 'figures', 'curves.svg')));
});

test('report on a directory that is not a sweep exits 2 with a clear line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-report-empty-'));
  const r = run('report', dir);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /<sweep-dir> must be a directory written by `decoupled sweep`/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('report --out where no directory can be made exits 2 with one line (it used to hang)', {
  timeout: 30_000,
}, async () => {
  const { dir } = await writeSyntheticSweep();
  // Node's recursive mkdir never returns under /proc; /proc/x cannot be created.
  const r = spawnSync(process.execPath, [MAIN, 'report', dir, '--out', '/proc/x/report'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.signal, null, 'finished by itself');
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^decoupled: --out \/proc\/x\/report: cannot mkdir \/proc\/x: /);
});
