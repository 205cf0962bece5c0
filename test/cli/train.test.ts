import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '#harness/cli/program.js';
import { configFromFlags, describeEpoch } from '#harness/cli/train.js';
import type { Checkpoint } from '#harness/experiments/checkpoint.js';
import type { EpochRecord, TrainConfig } from '#harness/experiments/config.js';
import { runTraining } from '#harness/experiments/train.js';
import { tempDir, writeIdxDataset } from '../experiments/fixtures.js';

const MAIN = fileURLToPath(new URL('../../../packages/harness/dist/cli/main.js', import.meta.url));

function cli(args: string[]) {
  return spawnSync(process.execPath, [MAIN, 'train', ...args], { encoding: 'utf8' });
}

/** Runs the CLI in this process; returns its exit code and what it wrote to stderr. */
async function cliInProcess(args: string[]): Promise<{ status: number; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const status = await main(['node', 'decoupled', 'train', ...args]);
    return { status, stderr };
  } finally {
    process.stderr.write = write;
  }
}

/** A few images, for errors found only once the run starts. */
const tinyData = writeIdxDataset({ train: 40, test: 10, side: 12, seed: 6 });

function checkpoint(out: string): Checkpoint {
  return JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as Checkpoint;
}

describe('decoupled train (CLI)', () => {
  it('documents every flag in --help', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0);
    for (const flag of [
      '--dataset',
      '--data-dir',
      '--subset',
      '--model',
      '--depth',
      '--optimizer',
      '--lr',
      '--weight-decay',
      '--weight-decay-norm',
      '--decay-scale',
      '--schedule',
      '--t0',
      '--t-mult',
      '--epochs',
      '--batch-size',
      '--seed',
      '--augment',
      '--out',
      '--resume',
      '--backend',
      '--threads',
      '--ema',
      '--accumulate',
    ]) {
      assert.ok(r.stdout.includes(flag), flag);
    }
  });

  it('merges a --config file with flags, and maps --depth and --augment', () => {
    const file = join(tempDir('config'), 'run.json');
    writeFileSync(
      file,
      JSON.stringify({ lr: 0.01, epochs: 4, schedule: { kind: 'cosine', min: 0.1 }, out: 'x' }),
    );
    const c = configFromFlags({
      config: file,
      epochs: 6,
      model: 'resnet',
      depth: 14,
      augment: true,
    });
    assert.equal(c.lr, 0.01);
    assert.equal(c.epochs, 6);
    assert.deepEqual(c.schedule, { kind: 'cosine', min: 0.1 });
    assert.deepEqual(c.model, { kind: 'resnet', blocksPerStage: 2, width: 16 });
    assert.deepEqual(c.augment, { cropPadding: 4, flip: true });
    assert.equal(configFromFlags({}).out, join('runs', 'fashion-mnist-cnn-adamw-s1'));
    assert.equal(c.threads, 1);
    assert.equal(configFromFlags({ threads: 2 }).threads, 2);
    const averaged = configFromFlags({ config: file, ema: 0.999, accumulate: 4 });
    assert.deepEqual([averaged.ema, averaged.accumulate], [0.999, 4]);
    assert.deepEqual([c.ema, c.accumulate], [undefined, undefined], 'absent: none, 1');
  });

  const bad: [string[], RegExp][] = [
    [['--lr', 'abc'], /--lr.*abc/],
    [['--lr', '0x10'], /--lr.*0x10/],
    [['--resume', '--force', '--out', '/nonexistent-dir/run'], /--resume .*--force .*give one/],
    [['--lr', '-1'], /--lr: .*received -1/],
    [['--epochs', '2.5'], /--epochs.*2\.5/],
    [['--optimizer', 'lion'], /--optimizer.*lion/],
    [
      ['--optimizer', 'schedule-free-adamw', '--schedule', 'cosine'],
      /--schedule: schedule-free-adamw takes no learning-rate schedule .*not cosine/,
    ],
    [['--warmup-steps', '10'], /--warmup-steps: applies to schedule-free-adamw and .* not adamw/],
    [['--optimizer', 'schedule-free-sgd', '--nesterov'], /--nesterov: applies to sgd and sgdw/],
    [
      ['--optimizer', 'schedule-free-adamw', '--decay-scale', 'schedule'],
      /--decay-scale: schedule-free-adamw scales its decay by lr_t/,
    ],
    [['--optimizer', 'schedule-free-sgd', '--warmup-steps', '2.5'], /--warmup-steps.*2\.5/],
    [
      [
        '--optimizer',
        'schedule-free-sgd',
        '--momentum',
        '0',
        '--data-dir',
        tinyData,
        '--out',
        join(tempDir('cli-sf'), 'run'),
      ],
      /ScheduleFreeSGD: momentum must be .*received 0/,
    ],
    [['--t0', '5'], /--t0 applies to warm-restarts/],
    [['--schedule', 'warm-restarts'], /needs --t0/],
    [['--model', 'resnet', '--depth', '9'], /--depth must be 6n \+ 2.*9/],
    [['--no-such-flag'], /unknown option/],
    [['--threads', '0'], /--threads must be an integer >= 1; received "0"/],
    [['--threads', 'all'], /--threads must be an integer >= 1; received "all"/],
    [['--ema', '1'], /^decoupled: --ema: .*<1; received 1\n$/],
    [['--ema', 'high'], /--ema must be a decimal number \(e\.g\. 3e-4\); received "high"/],
    [['--accumulate', '0'], /^decoupled: --accumulate: .*>0; received 0\n$/],
    [['--accumulate', '2.5'], /--accumulate must be an integer; received "2\.5"/],
    [
      ['--data-dir', '/nonexistent-dir', '--out', '/nonexistent-dir/run'],
      /not found.*apt-get install dataset-fashion-mnist/,
    ],
    [['--out', '/nonexistent-dir/run', '--resume'], /--resume: no checkpoint/],
  ];
  for (const [args, pattern] of bad) {
    it(`exits 2 with one clear error for ${args.join(' ')}`, async () => {
      const r = await cliInProcess(args);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('maps --warmup-steps, --r and --weight-lr-power to the schedule-free options', () => {
    const c = configFromFlags({
      optimizer: 'schedule-free-sgd',
      warmupSteps: 100,
      r: 0.5,
      weightLrPower: 1,
    });
    assert.deepEqual(
      [c.optimizer, c.warmupSteps, c.r, c.weightLrPower],
      ['schedule-free-sgd', 100, 0.5, 1],
    );
    assert.equal(configFromFlags({}).warmupSteps, undefined);
  });

  it('exits 2 as a process, with no stack trace', () => {
    const r = cli(['--lr', '0', '--epochs', '1']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^decoupled: --lr: .*received 0/);
  });

  it('prints a readable line per epoch on a terminal, and the JSON record elsewhere or with --json', {
    skip: existsSync('/usr/bin/script') ? false : 'needs script(1) from util-linux for a terminal',
  }, () => {
    const dataDir = writeIdxDataset({ train: 600, test: 100, side: 12, seed: 5 });
    const base = ['--data-dir', dataDir, '--model', 'mlp', '--hidden', '16', '--epochs', '1'];
    const args = (out: string, ...more: string[]) =>
      [MAIN, 'train', ...base, '--out', join(tempDir('cli-tty'), out), ...more].join(' ');
    // script(1) runs the command on a pseudo-terminal, as a user's shell would.
    const onTerminal = (command: string) =>
      spawnSync('/usr/bin/script', ['-qec', `${process.execPath} ${command}`, '/dev/null'], {
        encoding: 'utf8',
      });
    const readable = onTerminal(args('readable'));
    assert.equal(readable.status, 0, readable.stdout);
    const [record] = readFileSync(
      join(readable.stdout.match(/results in (\S+)/)?.[1] ?? '', 'metrics.jsonl'),
      'utf8',
    )
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as EpochRecord);
    assert.ok(readable.stdout.includes(describeEpoch(record, 1)), readable.stdout);
    assert.match(describeEpoch(record, 1), /^epoch 1\/1: train loss \d\.\d{4}, train error /);
    assert.doesNotMatch(readable.stdout, /\{"epoch":1/);
    const json = onTerminal(args('json', '--json'));
    assert.equal(json.status, 0, json.stdout);
    assert.match(json.stdout, /\{"epoch":1,"step":/);
    const piped = cli([...base, '--out', join(tempDir('cli-pipe'), 'run')]);
    assert.equal(piped.status, 0, piped.stderr);
    const lines = piped.stdout.trim().split('\n');
    assert.equal(lines.length, 1, piped.stdout);
    assert.deepEqual(Object.keys(JSON.parse(lines[0]) as object), Object.keys(record));
  });

  it('checkpoints on SIGTERM and, resumed, ends bit-identical to an uninterrupted run', async () => {
    const dataDir = writeIdxDataset({ train: 2400, test: 100, side: 12, seed: 4 });
    const out = join(tempDir('cli'), 'run');
    const args = [
      '--data-dir',
      dataDir,
      '--model',
      'mlp',
      '--hidden',
      '256',
      '--epochs',
      '3',
      '--batch-size',
      '32',
      '--schedule',
      'cosine',
      '--weight-decay',
      '0.05',
      '--weight-decay-norm',
      '--flip',
      '--crop-padding',
      '1',
      '--seed',
      '7',
      '--out',
      out,
    ];
    const child = spawn(process.execPath, [MAIN, 'train', ...args], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('"epoch":1')) resolve();
      });
      child.on('exit', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    assert.equal(await exit, 143, stderr);
    assert.match(stderr, /checkpoint saved/);
    const stopped = checkpoint(out).state;
    assert.ok(stopped.epoch >= 1 && stopped.epoch < 3, `stopped at ${JSON.stringify(stopped)}`);

    const resumed = cli(['--out', out, '--resume', '--quiet']);
    assert.equal(resumed.status, 0, resumed.stderr);

    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as TrainConfig;
    const whole = join(tempDir('cli-whole'), 'run');
    await runTraining({ ...config, out: whole });
    assert.deepEqual(
      checkpoint(out).model.map((t) => t.data),
      checkpoint(whole).model.map((t) => t.data),
    );
    assert.deepEqual(
      checkpoint(out).optimizer.map((t) => t.data),
      checkpoint(whole).optimizer.map((t) => t.data),
    );
  });
});
