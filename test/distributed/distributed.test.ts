/**
 * Distributed sweeps on a real redis-server (127.0.0.1, free port): an end-to-end sweep with two
 * worker processes, a worker SIGKILLed mid-trial (its trial completes once, through BullMQ's
 * stalled-job handling, resuming from its checkpoint), a coordinator SIGKILLed and restarted
 * (nothing collected twice, nothing re-run), and Redis unreachable or restarted empty (clear
 * error, retry with backoff, nothing lost), plus crashed trial threads, failed jobs left by an
 * earlier run, an aborted coordinator, a coordinator killed between storing a result and removing
 * its job, and a worker stopped while Redis is gone. Trials are the synthetic executor's busy-waits, whose
 * test error has a closed form (fixtures/synthetic-executor.ts), except one real training run that
 * must match the local worker-thread pool's record of the same trial.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { Queue, Worker } from 'bullmq';
import {
  createRedisRunner,
  DEFAULT_QUEUE,
  RedisUnavailableError,
  runDistributedSweep,
  trialJobId,
} from '#harness/sweep/distributed/index.js';
import { runSweep } from '#harness/sweep/run.js';
import { expandGrid } from '#harness/sweep/spec.js';
import type { SweepSpec, TrialResult } from '#harness/sweep/types.js';
import { freePort, haveRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { ALWAYS_THROW_LR, CRASH_ONCE_LR, syntheticError } from './fixtures/synthetic-executor.js';
import {
  CLI_MAIN,
  CRASHING_COORDINATOR,
  epochLog,
  Proc,
  rawResults,
  startWorkerProc,
  tinySpec,
  until,
  type WorkerProcOptions,
} from './helpers.js';

const skip = haveRedis() ? false : 'redis-server is not installed (apt-get install redis-server)';

/** Every trial of `spec` recorded exactly once, ok, with the closed-form errors of each epoch. */
function assertComplete(spec: SweepSpec, records: TrialResult[]) {
  const trials = expandGrid(spec);
  const ids = records.map((r) => r.trialId).sort();
  assert.deepEqual(ids, trials.map((t) => t.id).sort(), 'each trial recorded exactly once');
  const epochs = Number(spec.base.epochs);
  for (const r of records) {
    assert.equal(r.status, 'ok', `${r.trialId}: ${r.error}`);
    assert.deepEqual(
      r.epochs.map((p) => [p.epoch, p.testError]),
      Array.from({ length: epochs }, (_, i) => [i + 1, syntheticError(r.params, i + 1)]),
    );
    assert.equal(r.final?.testError, syntheticError(r.params, epochs));
  }
}

describe('distributed sweeps on Redis', { skip }, () => {
  let redis: TestRedis;
  let root: string;
  const procs: Proc[] = [];
  const worker = (name: string, options: Omit<WorkerProcOptions, 'name'> = {}) => {
    const proc = startWorkerProc(redis.url, { name, ...options });
    procs.push(proc);
    return proc;
  };
  /** Resolves once every one of `workers` waits for trials. */
  const ready = (...workers: Proc[]) =>
    Promise.all(workers.map((w) => w.waitFor(/waiting for trials/)));

  before(async () => {
    redis = await startRedis();
    root = await mkdtemp(join(tmpdir(), 'decoupled-dist-'));
  });

  // Every test ends with no worker or coordinator of its own left running.
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
  });

  after(async () => {
    await redis?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('end to end: two worker processes run a sweep into the result store', {
    timeout: 40_000,
  }, async () => {
    const a = worker('alpha');
    const b = worker('beta');
    await ready(a, b);
    const spec = tinySpec('e2e', [0.001, 0.002, 0.003, 0.004], 2);
    const dir = join(root, 'e2e');
    const summary = await runSweep({
      dir,
      spec,
      runner: createRedisRunner({ redis: redis.url, pollIntervalMs: 100 }),
    });
    assert.equal(summary.recorded, 8);
    assert.equal(summary.interrupted, false);
    const records = await rawResults(dir);
    assertComplete(spec, records);
    const workers = new Set(records.map((r) => r.worker?.split('/')[0]));
    assert.deepEqual([...workers].sort(), ['alpha', 'beta'], 'both processes ran trials');
    await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
  });

  test('two sweep directories with the same grid on one queue each train their own trials', {
    timeout: 40_000,
  }, async () => {
    const a = worker('one');
    const b = worker('two');
    await ready(a, b);
    const spec = tinySpec('twins', [0.001, 0.002], 2);
    const dirs = [join(root, 'twin-a'), join(root, 'twin-b')];
    const summaries = await Promise.all(
      dirs.map((dir) =>
        runSweep({
          dir,
          spec,
          runner: createRedisRunner({ redis: redis.url, pollIntervalMs: 100 }),
        }),
      ),
    );
    for (const [i, dir] of dirs.entries()) {
      assert.equal(summaries[i].recorded, 4);
      assertComplete(spec, await rawResults(dir));
      for (const trial of expandGrid(spec)) {
        const log = await epochLog(join(dir, 'trials', trial.id));
        assert.deepEqual(
          log.map((l) => l.epoch),
          [1, 2],
          `${dir}: ${trial.id} trained in its own directory`,
        );
      }
    }
    await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
  });

  test('finished trials are collected as BullMQ reports them, not at the next poll', {
    timeout: 40_000,
  }, async () => {
    const w = worker('prompt');
    await w.waitFor(/waiting for trials/);
    const spec = tinySpec('events', [0.006, 0.007], 1);
    const dir = join(root, 'events');
    const started = Date.now();
    const collectedAt: number[] = [];
    const summary = await runSweep({
      dir,
      spec,
      // A poll interval far longer than the test: only completion events can finish it in time.
      runner: createRedisRunner({ redis: redis.url, pollIntervalMs: 600_000 }),
      onEvent: (event) => {
        if (event.type === 'done') collectedAt.push(Date.now() - started);
      },
    });
    assert.equal(summary.recorded, 4);
    assertComplete(spec, await rawResults(dir));
    assert.equal(collectedAt.length, 4);
    assert.ok(Math.max(...collectedAt) < 30_000, `collected after ${collectedAt} ms`);
  });

  test('real training through a worker process records what a local sweep records', {
    timeout: 60_000,
  }, async () => {
    // The default executor (harness sweep/execute.ts): a tiny MLP on 400 Fashion-MNIST images.
    const spec: SweepSpec = {
      name: 'real',
      base: {
        epochs: 2,
        subset: 400,
        testSubset: 200,
        batchSize: 100,
        model: { kind: 'mlp', hidden: [16] },
      },
      grid: {
        optimizer: ['adamw'],
        lr: [0.002],
        weightDecay: [0.05],
        schedule: ['constant'],
        seed: [3],
      },
    };
    worker('real', { realTraining: true });
    const [distributed, local] = await Promise.all([
      runSweep({
        dir: join(root, 'real-redis'),
        spec,
        runner: createRedisRunner({ redis: redis.url, pollIntervalMs: 100 }),
      }),
      runSweep({ dir: join(root, 'real-local'), spec, concurrency: 1 }),
    ]);
    assert.equal(distributed.recorded, 1);
    assert.equal(local.recorded, 1);
    const [viaRedis] = await rawResults(join(root, 'real-redis'));
    const [viaPool] = await rawResults(join(root, 'real-local'));
    assert.equal(viaRedis.status, 'ok', viaRedis.error);
    assert.match(viaRedis.worker ?? '', /^real\//);
    const numbers = (r: TrialResult) => ({
      trialId: r.trialId,
      params: r.params,
      final: r.final,
      epochs: r.epochs.map(({ wallTimeMs: _, ...rest }) => rest),
    });
    assert.deepEqual(numbers(viaRedis), numbers(viaPool));
  });

  /**
   * Two workers and a sweep of two 4-epoch trials; resolves once the first worker's trial has
   * checkpointed an epoch, so the test can stop that worker mid-trial.
   */
  async function sweepWithTwoWorkers(name: string, first: Omit<WorkerProcOptions, 'name'>) {
    const spec = tinySpec(name, [0.01], 4);
    const dir = join(root, name);
    // Both wait before the sweep starts, so each takes one of the two trials.
    const a = worker(`${name}-first`, { epochMs: 300, ...first });
    const b = worker('rescuer', { epochMs: 300 });
    await ready(a, b);
    const sweep = runSweep({
      dir,
      spec,
      runner: createRedisRunner({ redis: redis.url, pollIntervalMs: 100 }),
    });
    const running = await a.waitFor(/running \S+/);
    const trialId = /running (\S+)/.exec(running)![1];
    const trialDir = join(dir, 'trials', trialId);
    await until(async () => (await epochLog(trialDir)).length >= 1, 'a checkpointed epoch');
    return { spec, dir, a, b, sweep, trialId, trialDir };
  }

  /**
   * After the first worker stopped with `stoppedAfter` epochs done: both trials are recorded once,
   * and the rescuer finished the stopped one from its checkpoint (each epoch ran once, except the
   * one cut short).
   */
  async function assertRescued(
    run: Awaited<ReturnType<typeof sweepWithTwoWorkers>>,
    stoppedAfter: number,
  ): Promise<TrialResult> {
    const summary = await run.sweep;
    assert.equal(summary.recorded, 2);
    const records = await rawResults(run.dir);
    assertComplete(run.spec, records);
    const rescued = records.find((r) => r.trialId === run.trialId)!;
    assert.match(rescued.worker ?? '', /^rescuer\//);
    const log = await epochLog(run.trialDir);
    assert.deepEqual(
      log.map((l) => l.epoch),
      [1, 2, 3, 4],
    );
    assert.ok(log.slice(0, stoppedAfter).every((l) => l.pid === run.a.child.pid));
    assert.ok(log.slice(stoppedAfter).every((l) => l.pid === run.b.child.pid));
    await run.b.kill('SIGTERM');
    return rescued;
  }

  test('a worker killed mid-trial: the trial resumes on another worker and completes once', {
    timeout: 40_000,
  }, async () => {
    const run = await sweepWithTwoWorkers('kill', {});
    await run.a.kill('SIGKILL');
    const killedAfter = (await epochLog(run.trialDir)).length;
    assert.ok(killedAfter < 4, 'killed before the trial finished');
    const rescued = await assertRescued(run, killedAfter);
    assert.ok(rescued.attempt >= 2, `attempt ${rescued.attempt} counts the killed one`);
  });

  test('a worker stopped with SIGTERM hands its trial back at once; another resumes it', {
    timeout: 40_000,
  }, async () => {
    // A 30 s lock: were the trial left to the stalled-job check, the rescue would take 30 s.
    const run = await sweepWithTwoWorkers('sigterm', { lockDurationMs: 30_000 });
    const stoppedAt = Date.now();
    run.a.child.kill('SIGTERM');
    assert.equal(await run.a.exited, 143);
    assert.ok(Date.now() - stoppedAt < 5_000, 'the worker stops within a batch, not a trial');
    const stoppedAfter = (await epochLog(run.trialDir)).length;
    await run.b.waitFor(new RegExp(`running ${run.trialId}`), 10_000);
    assert.ok(Date.now() - stoppedAt < 10_000, 'picked up at once, not after the 30 s lock');
    await assertRescued(run, stoppedAfter);
  });

  test('a crashed trial thread is retried; a trial that always throws is recorded failed once', {
    timeout: 40_000,
  }, async () => {
    const spec = tinySpec('faults', [CRASH_ONCE_LR, ALWAYS_THROW_LR], 1);
    spec.grid.optimizer = ['adamw'];
    const dir = join(root, 'faults');
    const w = worker('faulty', { concurrency: 2 });
    await w.waitFor(/waiting for trials/);
    const summary = await runSweep({
      dir,
      spec,
      runner: createRedisRunner({
        redis: redis.url,
        pollIntervalMs: 100,
        attempts: 2,
        retryBackoffMs: 100,
      }),
    });
    assert.equal(summary.recorded, 2);
    assert.equal(summary.failed, 1);
    const records = await rawResults(dir);
    assert.equal(records.length, 2);
    const crashed = records.find((r) => r.params.lr === CRASH_ONCE_LR)!;
    assert.equal(crashed.status, 'ok');
    assert.equal(crashed.attempt, 2);
    assert.equal(crashed.final?.testError, syntheticError(crashed.params, 1));
    const broken = records.find((r) => r.params.lr === ALWAYS_THROW_LR)!;
    assert.equal(broken.status, 'failed');
    assert.match(broken.error ?? '', /gave up after 2 attempt\(s\): synthetic executor bug/);
  });

  test('a failed job left in Redis by an earlier run gets fresh attempts', {
    timeout: 40_000,
  }, async () => {
    const spec = tinySpec('leftover', [0.11], 1);
    spec.grid.optimizer = ['adamw'];
    const dir = join(root, 'leftover');
    const [trial] = expandGrid(spec);
    // An earlier run's job for this trial, failed for good (e.g. a since-fixed bug).
    const connection = { host: '127.0.0.1', port: redis.port };
    const queue = new Queue(DEFAULT_QUEUE, { connection });
    const trialDir = join(dir, 'trials', trial.id);
    const jobId = trialJobId(trial.id, trialDir);
    await queue.add('trial', { trial, dir: trialDir }, { jobId });
    const failing = new Worker(
      DEFAULT_QUEUE,
      async () => {
        throw new Error('old failure');
      },
      { connection },
    );
    await new Promise((resolve) => failing.once('failed', resolve));
    await failing.close();
    assert.equal(await queue.getJobState(jobId), 'failed');
    await queue.close();
    worker('fresh');
    const summary = await runSweep({
      dir,
      spec,
      runner: createRedisRunner({ redis: redis.url, pollIntervalMs: 100 }),
    });
    assert.equal(summary.failed, 0);
    const records = await rawResults(dir);
    assertComplete(spec, records);
    assert.equal(records[0].attempt, 1);
  });

  test('a coordinator killed and restarted collects the rest, nothing twice or re-run', {
    timeout: 40_000,
  }, async () => {
    const spec = tinySpec('restart', [0.02, 0.03, 0.04], 2);
    const dir = join(root, 'restart');
    const specFile = join(root, 'restart.json');
    await writeFile(specFile, JSON.stringify(spec));
    const w = worker('steady', { concurrency: 2, epochMs: 500 });
    await w.waitFor(/waiting for trials/);
    // The real `decoupled sweep --redis` (it polls every 2 s).
    const args = [CLI_MAIN, 'sweep', '--redis', redis.url, '--spec', specFile, '--out', dir];
    const first = new Proc(args);
    procs.push(first);
    await until(async () => (await rawResults(dir)).length >= 1, 'a first recorded result');
    await first.kill('SIGKILL');
    const recordedBefore = (await rawResults(dir)).length;
    assert.ok(recordedBefore < 6, 'killed before the sweep finished');
    // The worker finishes the remaining trials while no coordinator is collecting.
    await until(
      async () => w.lines.filter((l) => /finished/.test(l)).length >= 6,
      'all trials finished on the worker',
    );
    const second = new Proc(args);
    procs.push(second);
    assert.equal(await second.exited, 0, second.text);
    assertComplete(spec, await rawResults(dir));
    for (const trial of expandGrid(spec)) {
      const log = await epochLog(join(dir, 'trials', trial.id));
      assert.deepEqual(
        log.map((l) => l.epoch),
        [1, 2],
        `${trial.id} ran once`,
      );
    }
  });

  test('a coordinator killed between storing a result and removing its job: the restart removes it', {
    timeout: 60_000,
  }, async () => {
    // n = 1: other trials are still pending at the restart; n = 2: every trial is recorded.
    for (const n of [1, 2]) {
      const queueName = `leak-${n}`;
      const spec = tinySpec(`leak-${n}`, [0.21, 0.22], 1);
      spec.grid.optimizer = ['adamw'];
      const dir = join(root, `leak-${n}`);
      const specFile = join(root, `leak-${n}.json`);
      await writeFile(specFile, JSON.stringify(spec));
      worker(`leak-worker-${n}`, { queue: queueName });
      const crashing = new Proc([
        CRASHING_COORDINATOR,
        redis.url,
        queueName,
        specFile,
        dir,
        `${n}`,
      ]);
      procs.push(crashing);
      await crashing.exited;
      assert.equal(crashing.child.signalCode, 'SIGKILL', crashing.text);
      const before = await rawResults(dir);
      assert.equal(before.length, n, 'killed right after the n-th append');
      const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: redis.port } });
      try {
        const leaked = expandGrid(spec).find((t) => t.id === before[n - 1].trialId)!;
        const leakedJob = trialJobId(leaked.id, join(dir, 'trials', leaked.id));
        assert.equal(await queue.getJobState(leakedJob), 'completed', 'the crash left its job');
        const args = ['sweep', '--redis', redis.url, '--queue', queueName, '--spec', specFile];
        const restarted = new Proc([CLI_MAIN, ...args, '--out', dir]);
        procs.push(restarted);
        assert.equal(await restarted.exited, 0, restarted.text);
        assert.match(restarted.text, /removed 1 finished job\(s\)/);
        assertComplete(spec, await rawResults(dir));
        const counts = await queue.getJobCounts();
        assert.deepEqual(
          Object.entries(counts).filter(([, count]) => count > 0),
          [],
          'no job left in Redis',
        );
      } finally {
        await queue.close();
      }
    }
  });

  test('`decoupled sweep --queue` reaches only the workers of that queue', {
    timeout: 40_000,
  }, async () => {
    const other = worker('other-team', { queue: 'team-a' });
    const ours = worker('our-team', { queue: 'team-b' });
    await ready(other, ours);
    const spec = tinySpec('queues', [0.05], 1);
    const dir = join(root, 'queues');
    const specFile = join(root, 'queues.json');
    await writeFile(specFile, JSON.stringify(spec));
    const args = ['sweep', '--redis', redis.url, '--queue', 'team-b', '--attempts', '2'];
    const sweep = new Proc([
      CLI_MAIN,
      ...args,
      '--redis-timeout',
      '60000',
      '--spec',
      specFile,
      '--out',
      dir,
    ]);
    procs.push(sweep);
    assert.equal(await sweep.exited, 0, sweep.text);
    const records = await rawResults(dir);
    assertComplete(spec, records);
    assert.deepEqual(
      [...new Set(records.map((r) => r.worker?.split('/')[0]))],
      ['our-team'],
      'only the team-b worker ran trials',
    );
    assert.ok(!other.lines.some((l) => /finished|started/.test(l)), other.text);
  });

  test('an aborted coordinator returns at once and leaves its trials queued', {
    timeout: 20_000,
  }, async () => {
    const trials = expandGrid(tinySpec('abort', [0.12], 1));
    const lines: string[] = [];
    const controller = new AbortController();
    const run = runDistributedSweep(
      trials,
      {
        trialDir: (t) => join(root, 'abort', t.id),
        onResult: async () => assert.fail('no worker runs, nothing can be recorded'),
        signal: controller.signal,
      },
      { redis: redis.url, queue: 'abort-test', pollIntervalMs: 100, log: (l) => lines.push(l) },
    );
    await until(async () => lines.some((l) => /queued/.test(l)), 'the queued line');
    controller.abort();
    await run;
    assert.match(lines.join('\n'), /stopped collecting; 2 trial\(s\) stay queued/);
    const queue = new Queue('abort-test', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      for (const t of trials) {
        const jobId = trialJobId(t.id, join(root, 'abort', t.id));
        assert.equal(await queue.getJobState(jobId), 'waiting');
      }
    } finally {
      await queue.close();
    }
  });

  test('Redis unreachable: a clear error, retries with backoff, then the sweep goes on', {
    timeout: 40_000,
  }, async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const lines: string[] = [];
    const spec = tinySpec('outage', [0.05], 1);
    const dir = join(root, 'outage');
    const sweep = runSweep({
      dir,
      spec,
      runner: createRedisRunner({
        redis: url,
        pollIntervalMs: 100,
        log: (l) => lines.push(l),
      }),
    });
    // A worker started while Redis is down says so too, and waits.
    const w = startWorkerProc(url, { name: 'late' });
    procs.push(w);
    await until(async () => lines.some((l) => /unreachable/.test(l)), 'the unreachable line');
    assert.match(
      lines[0],
      new RegExp(
        `^sweep: Redis at ${url} is unreachable \\(ECONNREFUSED\\); retrying with backoff`,
      ),
    );
    await w.waitFor(new RegExp(`worker late: Redis at ${url} is unreachable \\(ECONNREFUSED\\)`));
    const late = await startRedis(port);
    try {
      const summary = await sweep;
      assert.equal(summary.recorded, 2);
      assert.ok(
        lines.some((l) => /reachable again/.test(l)),
        lines.join('\n'),
      );
      await w.waitFor(/worker late: Redis at .* is reachable again/);
      assertComplete(spec, await rawResults(dir));
    } finally {
      await late.stop();
    }
  });

  test('Redis restarted empty mid-sweep: reported, trials re-enqueued, none lost or doubled', {
    timeout: 40_000,
  }, async () => {
    const own = await startRedis();
    try {
      const lines: string[] = [];
      const spec = tinySpec('flaky', [0.07], 3);
      const dir = join(root, 'flaky');
      const w = startWorkerProc(own.url, { name: 'survivor', epochMs: 250 });
      procs.push(w);
      await w.waitFor(/waiting for trials/);
      const sweep = runSweep({
        dir,
        spec,
        runner: createRedisRunner({
          redis: own.url,
          pollIntervalMs: 100,
          log: (l) => lines.push(l),
        }),
      });
      const running = await w.waitFor(/running \S+/);
      const trialId = /running (\S+)/.exec(running)![1];
      await until(
        async () => (await epochLog(join(dir, 'trials', trialId))).length >= 1,
        'a checkpointed epoch',
      );
      await own.restart();
      const summary = await sweep;
      assert.equal(summary.recorded, 2);
      assertComplete(spec, await rawResults(dir));
      const text = lines.join('\n');
      assert.match(text, /Redis at redis:\/\/127\.0\.0\.1:\d+ went away \(/);
      assert.match(text, /reachable again/);
      assert.match(text, /missing from Redis/);
      for (const trial of expandGrid(spec)) {
        const log = await epochLog(join(dir, 'trials', trial.id));
        assert.deepEqual(
          log.map((l) => l.epoch),
          [1, 2, 3],
          `${trial.id}: each epoch ran once`,
        );
      }
    } finally {
      await own.stop();
    }
  });

  test('a worker whose Redis is gone stops on the first SIGINT, within seconds', {
    timeout: 40_000,
  }, async () => {
    const own = await startRedis();
    try {
      const [trial] = expandGrid(tinySpec('stranded', [0.13], 3));
      const queue = new Queue(DEFAULT_QUEUE, { connection: { host: '127.0.0.1', port: own.port } });
      const trialDir = join(root, 'stranded', trial.id);
      await queue.add('trial', { trial, dir: trialDir }, { jobId: trialJobId(trial.id, trialDir) });
      await queue.close();
      const w = startWorkerProc(own.url, { name: 'stranded', epochMs: 2000 });
      procs.push(w);
      await w.waitFor(/running \S+/);
      await own.kill();
      await w.waitFor(/Redis at .* went away/);
      const signalled = Date.now();
      w.child.kill('SIGINT');
      const code = await w.exited;
      const tookMs = Date.now() - signalled;
      // A correctness bound (it used to wait for Redis for good), not a speed goal.
      assert.ok(tookMs < 10_000, `exited ${tookMs} ms after SIGINT:\n${w.text}`);
      assert.equal(code, 130, w.text);
      assert.match(w.text, /Redis is unreachable; stopping without it/);
    } finally {
      await own.stop();
    }
  });

  test('with every trial recorded, an unreachable Redis is not waited for', {
    timeout: 20_000,
  }, async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const trials = expandGrid(tinySpec('all-recorded', [0.14], 1));
    const lines: string[] = [];
    // The default redisTimeoutMs is 10 minutes: only the short cleanup wait ends this in time.
    await runDistributedSweep(
      [],
      {
        trialDir: (t) => join(root, 'all-recorded', t.id),
        onResult: async () => assert.fail('nothing is pending'),
        recorded: trials,
      },
      { redis: url, log: (l) => lines.push(l) },
    );
    assert.match(
      lines.join('\n'),
      /is unreachable; jobs that an earlier coordinator may have left/,
    );
  });

  test('Redis unreachable for longer than redisTimeoutMs: RedisUnavailableError', {
    timeout: 40_000,
  }, async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const trials = expandGrid(tinySpec('gone', [0.06], 1));
    let recorded = 0;
    await assert.rejects(
      runDistributedSweep(
        trials,
        { trialDir: (t) => join(root, 'gone', t.id), onResult: async () => void recorded++ },
        { redis: url, redisTimeoutMs: 1000, log: () => {} },
      ),
      (error: unknown) => {
        assert.ok(error instanceof RedisUnavailableError);
        assert.match(error.message, new RegExp(`Redis at ${url} has been unreachable`));
        assert.match(error.message, /run the same command again/);
        return true;
      },
    );
    assert.equal(recorded, 0);
  });
});
