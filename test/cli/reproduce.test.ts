/**
 * End to end: `decoupled reproduce --preset quick` trains 18 real models on the Fashion-MNIST of
 * Debian's dataset-fashion-mnist package, then writes the report (about 1-2 minutes on 2 cores).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../../packages/harness/dist/cli/main.js', import.meta.url));
const DATA = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';

test('an unknown preset exits 2', () => {
  const r = spawnSync(process.execPath, [MAIN, 'reproduce', '--preset', 'tiny'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--preset must be .*'quick', 'medium', 'full'.*"tiny"/);
});

test('trials that fail (no data set) exit 1, say why once, and are rerun by --retry-failed', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'reproduce-failed-')), 'r');
  const args = ['reproduce', '--preset', 'quick', '--data-dir', '/nonexistent', '--out', dir];
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /18 trial\(s\) recorded as failed \(first: \S+: \/nonexistent\/.*not found/,
  );
  assert.match(r.stderr, /--retry-failed/);
  assert.match(r.stdout, /Every trial failed/);
  assert.doesNotMatch(r.stdout, /no coupled\/decoupled pair/);
  // Rerun without the flag skips them; with it, they run (and fail) again.
  const again = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /0 recorded now \(0 failed\), 18 skipped/);
  const retried = spawnSync(process.execPath, [MAIN, ...args, '--retry-failed'], {
    encoding: 'utf8',
  });
  assert.equal(retried.status, 1);
  assert.match(retried.stderr, /18 recorded now \(18 failed\), 0 skipped/);
});

test('reproduce --preset quick: sweep, then report, on real data', {
  skip: existsSync(DATA) ? false : 'dataset-fashion-mnist is not installed',
  timeout: 400_000,
}, async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'reproduce-quick-')), 'quick');
  const child = spawn(process.execPath, [MAIN, 'reproduce', '--preset', 'quick', '--out', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);
  // Progress across trials with an ETA, then where the report is.
  assert.match(stderr, /\[1\/18\] .*ETA/);
  const html = join(dir, 'report', 'index.html');
  assert.match(stdout, new RegExp(`^report: ${html.replace(/[.]/g, '\\.')}$`, 'm'));
  assert.ok(existsSync(html));
  const records = readFileSync(join(dir, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(records.length, 18);
  assert.equal(new Set(records.map((r) => r.trialId)).size, 18);
  for (const r of records) {
    assert.equal(r.status, 'ok', r.error);
    assert.equal(r.epochs.length, 3);
    // The models learned: far below chance (90%), and better at the end than after epoch 1.
    assert.ok(r.final.testError < 0.4, `${r.trialId}: ${r.final.testError}`);
    assert.ok(r.final.trainLoss < r.epochs[0].trainLoss, r.trialId);
  }
  const summary = JSON.parse(readFileSync(join(dir, 'report', 'summary.json'), 'utf8'));
  assert.equal(summary.claims.generalization.result.comparisons.length, 1);
  // A verdict or a reason for each of the four claims (two each for generalization and slopes).
  assert.equal(summary.claimFindings.length >= 4, true);
  assert.match(summary.findings.at(-1), /^Best settings were chosen on the test set itself/);

  // Running it again skips every finished trial and rewrites the report.
  const again = spawnSync(
    process.execPath,
    [MAIN, 'reproduce', '--preset', 'quick', '--out', dir],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /18 trials, 18 already recorded, 0 to run/);
  assert.equal(readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').length, 18);
});
