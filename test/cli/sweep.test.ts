/**
 * `decoupled sweep` through the real executable: bad input exits 2 with one clear line; dry runs;
 * the exit code of the signal that stopped a sweep.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeIdxDataset } from '../experiments/fixtures.js';

const MAIN = fileURLToPath(new URL('../../../packages/harness/dist/cli/main.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

/** Runs each case; each must exit 2 with one line matching its pattern and no stack trace. */
function assertUsageErrors(cases: [string[], RegExp][]) {
  for (const [args, pattern] of cases) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
}

test('bad flags exit with code 2 and name what was wrong', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-sweep-'));
  writeFileSync(
    join(dir, 'bad.json'),
    JSON.stringify({
      base: { lr: 1 },
      grid: { optimizer: ['adam'], lr: [1e-3], weightDecay: [0] },
    }),
  );
  assertUsageErrors([
    [
      ['sweep', '--optimizer', 'adam', '--lr', 'abc', '--weight-decay', '0'],
      /--lr must be .*"abc"/,
    ],
    [
      ['sweep', '--optimizer', 'adamx', '--lr', '1e-3', '--weight-decay', '0'],
      /--optimizer .*'adamw'.*"adamx"/,
    ],
    [['sweep', '--lr', '1e-3'], /--spec .*--preset .*--optimizer/],
    [['sweep', '--spec', join(dir, 'bad.json'), '--dry-run'], /base\.lr/],
    [['sweep', '--preset', 'huge', '--dry-run'], /--preset .*'quick'.*"huge"/],
    [
      ['sweep', '--preset', 'quick', '--concurrency', '0', '--out', dir],
      /--concurrency must be an integer >= 1/,
    ],
    [['sweep', '--preset', 'quick', '--queue', 'q', '--out', dir], /--queue needs --redis <url>/],
    [
      ['reproduce', '--preset', 'quick', '--attempts', '2', '--out', dir],
      /--attempts needs --redis/,
    ],
    // Checked before anything connects: port 1 has no Redis, and no connection is tried.
    [
      [
        'sweep',
        '--preset',
        'quick',
        '--redis',
        'redis://127.0.0.1:1',
        '--queue',
        'a b',
        '--out',
        dir,
      ],
      /--queue .*letters, digits/,
    ],
    [
      [
        'sweep',
        '--preset',
        'quick',
        '--redis',
        'redis://127.0.0.1:1',
        '--attempts',
        '0',
        '--out',
        dir,
      ],
      /--attempts must be an integer >= 1; received "0"/,
    ],
    [
      [
        'reproduce',
        '--preset',
        'quick',
        '--redis',
        'redis://127.0.0.1:1',
        '--redis-timeout',
        'soon',
        '--out',
        dir,
      ],
      /--redis-timeout must be an integer >= 1; received "soon"/,
    ],
  ]);
});

test('bad spec files, values and paths exit with code 2 and name what was wrong', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-sweep-'));
  writeFileSync(join(dir, 'broken.yaml'), 'grid: [1, 2\nbase: {');
  writeFileSync(join(dir, 'empty.yaml'), '');
  writeFileSync(join(dir, 'a-file'), '');
  const flagSweep = ['sweep', '--optimizer', 'adam', '--lr', '1e-3', '--weight-decay', '0'];
  assertUsageErrors([
    [
      ['sweep', '--spec', join(dir, 'missing.yaml')],
      /--spec .*missing\.yaml: cannot open .*no such file/,
    ],
    [['sweep', '--spec', dir], /--spec .*: cannot read .*is a directory/],
    [['sweep', '--spec', join(dir, 'broken.yaml')], /--spec .*broken\.yaml: .*/],
    [['sweep', '--spec', join(dir, 'empty.yaml')], /--spec .*empty\.yaml/],
    [
      ['sweep', '--optimizer', 'adam', '--lr', '-1e-3', '--weight-decay', '0', '--dry-run'],
      /--lr: .*received -0\.001/,
    ],
    [
      ['sweep', '--optimizer', 'adam', '--lr', '0x10', '--weight-decay', '0'],
      /--lr must be .*"0x10"/,
    ],
    [[...flagSweep, '--seed', '1:3:3'], /--seed must be .*integers.*"1:3:3"/],
    [[...flagSweep, '--epochs', '0', '--dry-run'], /--epochs must be an integer >= 1.*"0"/],
    [[...flagSweep, '--epochs', '5,2.5', '--dry-run'], /--epochs must be .*"5,2\.5"/],
    [[...flagSweep, '--epochs', '5,,10', '--dry-run'], /--epochs must be .*"5,,10"/],
    [[...flagSweep, '--epochs', '0x10', '--dry-run'], /--epochs must be .*"0x10"/],
    [[...flagSweep, '--base', '{"bogus":1}', '--dry-run'], /--base .*bogus/],
    [[...flagSweep, '--model', 'transformer', '--dry-run'], /--model: .*"transformer"/],
    [[...flagSweep, '--concurrency', '0', '--dry-run'], /--concurrency must be an integer >= 1/],
    [[...flagSweep, '--redis', '', '--dry-run'], /redis/i],
    [[...flagSweep, '--out', join(dir, 'a-file', 'sub')], /cannot mkdir .*a-file.*not a directory/],
  ]);
});

test('--dry-run lists the trials of a preset with flag overrides', () => {
  const r = run('sweep', '--preset', 'quick', '--seed', '1,2', '--dry-run');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^36 trials, 108 trial-epochs$/m);
  const flags = run(
    'sweep',
    '--optimizer',
    'sgd,sgdw',
    '--lr',
    '0.01:1:3',
    '--weight-decay',
    '0,1e-4',
    '--schedule',
    'cosine,warm-restarts',
    '--model',
    'mlp',
    '--dry-run',
  );
  assert.equal(flags.status, 0, flags.stderr);
  assert.match(flags.stdout, /^24 trials, 240 trial-epochs$/m);
  assert.match(flags.stdout, /^sgdw_lr0\.1_wd0\.0001_warm-restarts_s1_[0-9a-f]{8}$/m);
});

test("--epochs: one value sets every trial's length as before, a list is an epochs axis", () => {
  const one = run('sweep', '--preset', 'quick', '--epochs', '4', '--dry-run');
  assert.equal(one.status, 0, one.stderr);
  assert.match(one.stdout, /^18 trials, 72 trial-epochs$/m);
  assert.match(one.stdout, /^adamw_lr0\.003_wd0\.2_cosine_s1_[0-9a-f]{8}$/m, 'no _e in the ids');
  const two = run('sweep', '--preset', 'quick', '--epochs', '2, 6', '--dry-run');
  assert.equal(two.status, 0, two.stderr);
  assert.match(two.stdout, /^36 trials, 144 trial-epochs$/m);
  const ids = two.stdout.split('\n').filter((line) => line.includes('_s1_'));
  assert.equal(ids.filter((id) => /_s1_e2_[0-9a-f]{8}$/.test(id)).length, 18);
  assert.equal(ids.filter((id) => /_s1_e6_[0-9a-f]{8}$/.test(id)).length, 18);
});

test('a sweep stopped by a signal exits with its code: 130 for SIGINT, 143 for SIGTERM', {
  timeout: 120_000,
}, async () => {
  const dataDir = writeIdxDataset({ train: 2400, test: 100, side: 12, seed: 6 });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    const out = join(mkdtempSync(join(tmpdir(), 'cli-sweep-signal-')), 'sweep');
    const child = spawn(
      process.execPath,
      [
        MAIN,
        'sweep',
        '--optimizer',
        'adamw',
        '--lr',
        '1e-3',
        '--weight-decay',
        '0',
        '--model',
        'mlp',
        '--epochs',
        '200',
        '--data-dir',
        dataDir,
        '--concurrency',
        '1',
        '--out',
        out,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        if (/epoch/.test(stderr) || /to run on runner/.test(stderr)) resolve();
      });
      child.once('exit', () => resolve());
    });
    child.kill(signal);
    assert.equal(await exited, code, stderr);
    assert.match(stderr, new RegExp(`${signal}: stopping`));
    assert.match(stderr, /sweep interrupted/);
  }
});
