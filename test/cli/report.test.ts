/** `decoupled report` through the real executable. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeMediumRun } from '../helpers/medium-fixture.js';
import { writeSyntheticSweep } from '../helpers/report-fixture.js';

const MAIN = fileURLToPath(new URL('../../../packages/harness/dist/cli/main.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

test('report prints the per-claim verdicts, the other findings and where the page is', async () => {
  const { dir } = await writeSyntheticSweep();
  const out = join(mkdtempSync(join(tmpdir(), 'cli-report-')), 'out');
  const r = run('report', dir, '--out', out, '--top', '2');
  assert.equal(r.status, 0, r.stderr);
  // The page's two lists in the page's order, the same sentences as summary.json (one source).
  const [, claims = '', findings = ''] = r.stdout.split(
    /The paper's claims:\n|What the data shows:\n/,
  );
  const listed = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith('- '))
      .map((l) => l.slice(2));
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(listed(claims), summary.claimFindings);
  assert.deepEqual(listed(findings), summary.findings);
  assert.match(claims, /^- Generalization: AdamW vs Adam\+L2 \(cosine\)/m);
  assert.match(claims, /^- Separable lr and decay: AdamW \(cosine\): slope/m);
  assert.match(claims, /^- Warm restarts and anytime performance: this sweep cannot address it/m);
  // A verdict is stated once: not again among the other findings.
  assert.doesNotMatch(findings, /AdamW vs Adam\+L2|slope/);
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

test('report on a run of several sweeps prints the run verdicts, each claim once', async () => {
  const { root } = await writeMediumRun();
  const r = run('report', root, '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `report: ${join(root, 'report', 'index.html')}\n`);
  const loud = run('report', root);
  assert.equal(loud.status, 0, loud.stderr);
  const claims = loud.stdout.split("The paper's claims:\n")[1]?.split('\n\n')[0] ?? '';
  const summary = JSON.parse(readFileSync(join(root, 'report', 'summary.json'), 'utf8'));
  assert.deepEqual(
    claims.split('\n').map((l) => l.slice(2)),
    summary.claimFindings,
  );
  assert.match(claims, /^- Generalization \(seeds\/\): AdamW vs Adam\+L2 /m);
  assert.match(claims, /^- Generalization \(grid\/\): AdamW \(cosine\), its best decay /m);
  assert.match(claims, /^- Warm restarts \(restarts\/\): /m);
  assert.ok(existsSync(join(root, 'grid', 'report', 'index.html')));
});
