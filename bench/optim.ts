/**
 * `npm run bench:optim`: throughput of one AdamW step (28 bytes of memory traffic per parameter:
 * read p, g, m, v; write p, m, v) for this project's fused WASM SIMD kernel against its peers, all
 * measured in the same run: the kernel on 1 thread and on all threads (in place in an arena), the
 * kernel on plain arrays (staged copy in/out: all four arrays, or only p and g with the state in
 * kernel memory as an optimizer allocates it), the reference JS loop, tf.train.adam on the tfjs cpu
 * and wasm backends, PyTorch AdamW (foreach on and off, 1 thread) through Debian's python3-torch,
 * and a native C fused loop compiled here with gcc -O3 -march=native -fno-math-errno. Also one
 * schedule-free AdamW step (y, g, z, v: the same 28 bytes per parameter) through its fused kernel
 * and its reference loop (no peer: PyTorch 1.13 has no schedule-free optimizer).
 * Prints Mparam/s, GB/s and ratios; each figure is the median of several timed samples.
 *
 * Quick mode (BENCH_QUICK=1 or --quick): 100K and 4M params, fewer samples.
 * BENCH_SIZES=100000,4000000 overrides the sizes.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AdamScalars,
  adamReferenceUpdate,
  type ScheduleFreeScalars,
  scheduleFreeReferenceUpdate,
} from '#decoupled/core/kernels.js';
import {
  createArena,
  initKernels,
  kernelThreads,
  shutdownKernels,
  wasmKernels,
} from '#decoupled/kernels/index.js';
import { getThreadPool, setThreadPool } from '#decoupled/kernels/wasm.js';

const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const sizes = (process.env.BENCH_SIZES ?? (quick ? '100000,4000000' : '100000,4000000,64000000'))
  .split(',')
  .map(Number);
const SAMPLES = quick ? 5 : 9;
const BYTES_PER_PARAM = 28;
const cores = availableParallelism();
const NATIVE_FLAGS = ['-O3', '-march=native', '-fno-math-errno'];
const root = fileURLToPath(new URL('../..', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Median seconds per step of `step`: one untimed warm-up, then `samples` samples of enough steps
 * to last >= 20 ms each (one step per sample when a step is slower than that).
 */
function timeSteps(step: () => void, samples: number): number {
  step();
  const t0 = performance.now();
  step();
  const once = (performance.now() - t0) / 1000;
  const per = Math.max(1, Math.min(1000, Math.ceil(0.02 / Math.max(once, 1e-7))));
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    const a = performance.now();
    for (let k = 0; k < per; k++) step();
    out.push((performance.now() - a) / 1000 / per);
  }
  return median(out);
}

async function timeStepsAsync(step: () => Promise<void>, samples: number): Promise<number> {
  await step();
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    const a = performance.now();
    await step();
    out.push((performance.now() - a) / 1000);
  }
  return median(out);
}

function adamwScalars(t: number): AdamScalars {
  const lr = 1e-3;
  return {
    stepSize: lr / (1 - 0.9 ** t),
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    biasCorrection2Sqrt: Math.sqrt(1 - 0.999 ** t),
    l2: 0,
    decayFactor: 1 - lr * 1e-2,
    amsgrad: false,
    maximize: false,
  };
}

/** Step t of schedule-free AdamW at its default lr with decay (c = 1/(t+1): constant lr, r = 0). */
function scheduleFreeScalars(t: number): ScheduleFreeScalars {
  const lr = 0.0025;
  const c = 1 / (t + 1);
  return {
    lr,
    ckp1: c,
    yStep: lr * (0.9 * (1 - c) - 1),
    weightDecay: 1e-2,
    adam: { beta2: 0.999, eps: 1e-8, biasCorrection2: 1 - 0.999 ** t },
    maximize: false,
  };
}

function fillInputs(p: Float32Array, g: Float32Array): void {
  p.fill(0.01);
  for (let i = 0; i < g.length; i++) g[i] = ((i % 1000) - 500) * 1e-6;
}

type Row = {
  name: string;
  seconds: number | null;
  /** Process CPU seconds per step (1-thread rows measured in the interleaved rounds). */
  cpuSeconds?: number;
  note?: string;
  bytesPerParam?: number;
};

/** Seconds of a first step whose m and v are fresh (never touched) pages. */
function benchFirstTouch(n: number): number {
  const arena = createArena(4 * n + 64, { prefault: false });
  const [p, g, m, v] = [arena.alloc(n), arena.alloc(n), arena.alloc(n), arena.alloc(n)];
  fillInputs(p, g);
  wasmKernels.adam(
    p.subarray(0, 64),
    g.subarray(0, 64),
    m.subarray(0, 64),
    v.subarray(0, 64),
    null,
    adamwScalars(1),
  );
  const a = performance.now();
  wasmKernels.adam(p, g, m, v, null, adamwScalars(1));
  const seconds = (performance.now() - a) / 1000;
  arena.dispose();
  return seconds;
}

/** The non-finite gradient scan: the SIMD kernel vs the core's JS loop (sum of x * 0). */
function benchFiniteScan(n: number): { simd: number; js: number } {
  const arena = createArena(n + 64, { prefault: true });
  const g = arena.alloc(n);
  fillInputs(new Float32Array(1), g);
  let ok = true;
  const simd = timeSteps(() => {
    ok &&= wasmKernels.allFinite(g);
  }, SAMPLES);
  const js = timeSteps(
    () => {
      let sum = 0;
      for (let j = 0; j < g.length; j++) sum += g[j] * 0;
      ok &&= sum === 0;
    },
    n > 1e7 ? 3 : SAMPLES,
  );
  arena.dispose();
  if (!ok) throw new Error('finite scan disagrees');
  return { simd, js };
}

/**
 * A staged step on plain p and g: with `ownState` the state is where the optimizer puts it
 * (wasmKernels.allocateState: kernel memory, so only p and g are copied), else plain too.
 */
function stagedStep(n: number, ownState: boolean): () => void {
  const [p, g] = [new Float32Array(n), new Float32Array(n)];
  const state = () => (ownState ? wasmKernels.allocateState(p) : new Float32Array(n));
  const [m, v] = [state(), state()];
  fillInputs(p, g);
  let t = 1;
  return () => wasmKernels.adam(p, g, m, v, null, adamwScalars(t++));
}

function benchReference(n: number): number {
  const [p, g, m, v] = [0, 1, 2, 3].map(() => new Float32Array(n));
  fillInputs(p, g);
  let t = 1;
  return timeSteps(
    () => adamReferenceUpdate(p, g, m, v, null, adamwScalars(t++)),
    n > 1e7 ? 3 : SAMPLES,
  );
}

function benchScheduleFreeReference(n: number): number {
  const [y, g, z, v] = [0, 1, 2, 3].map(() => new Float32Array(n));
  fillInputs(y, g);
  z.set(y);
  let t = 1;
  return timeSteps(
    () => scheduleFreeReferenceUpdate(y, g, z, v, scheduleFreeScalars(t++)),
    n > 1e7 ? 3 : SAMPLES,
  );
}

async function benchTfjs(n: number, backend: 'cpu' | 'wasm'): Promise<number> {
  const tf = await import('@tensorflow/tfjs-core');
  if (backend === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(backend);
  await tf.ready();
  const p = new Float32Array(n);
  const g = new Float32Array(n);
  fillInputs(p, g);
  const variable = tf.variable(tf.tensor1d(p), true, 'w');
  const grad = tf.tensor1d(g);
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  const step = async () => {
    opt.applyGradients([{ name: 'w', tensor: grad }]);
    await variable.data(); // wait for the backend to finish
  };
  const seconds = await timeStepsAsync(step, n > 1e6 ? 3 : SAMPLES);
  opt.dispose();
  variable.dispose();
  grad.dispose();
  return seconds;
}

/** A child process answering one line per command line (bench/native/adamw.c, torch_optim.py). */
class LineRunner {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | null = null;
  private buffered = '';
  private failure = '';

  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let i = this.buffered.indexOf('\n'); i >= 0; i = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, i);
        this.buffered = this.buffered.slice(i + 1);
        const w = this.waiting;
        this.waiting = null;
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.failure = (this.failure + chunk).slice(-2000);
    });
    this.child.on('exit', () => {
      const w = this.waiting;
      this.waiting = null;
      w?.('');
    });
  }

  /** The next line of output ('' if the process ended). */
  next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.child.exitCode !== null) return Promise.resolve('');
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** Sends a command; returns the mean wall and CPU seconds per step it answers with. */
  async sample(command: string): Promise<Sample> {
    this.child.stdin.write(`${command}\n`);
    const line = await this.next();
    const pairs = line
      .trim()
      .split(/\s+/)
      .map((w) => w.split(',').map(Number));
    if (line === '' || pairs.some((x) => x.length !== 2 || x.some((t) => !Number.isFinite(t)))) {
      throw new Error(`${command}: no answer; stderr: ${this.failure.trim().split('\n').pop()}`);
    }
    const mean = (k: number) => pairs.reduce((a, x) => a + x[k], 0) / pairs.length;
    return { wall: mean(0), cpu: mean(1) };
  }

  get stderr(): string {
    return this.failure;
  }

  close(): void {
    this.child.stdin.end();
  }
}

let nativeBinary: string | null | undefined;
function compileNative(): string | null {
  if (nativeBinary !== undefined) return nativeBinary;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'decoupled-native-'));
    const bin = join(dir, 'adamw');
    const src = join(root, 'bench/native/adamw.c');
    execFileSync('gcc', [...NATIVE_FLAGS, '-o', bin, src, '-lm', '-lpthread'], { stdio: 'pipe' });
    const narrow = [...NATIVE_FLAGS, '-mprefer-vector-width=128', '-mno-avx512f'];
    execFileSync('gcc', [...narrow, '-o', `${bin}-128`, src, '-lm', '-lpthread'], {
      stdio: 'pipe',
    });
    nativeBinary = bin;
  } catch {
    nativeBinary = null;
  }
  return nativeBinary;
}

/** Starts the PyTorch peer (resolves to its runner and version) or explains why it cannot. */
async function startTorch(n: number): Promise<{ runner: LineRunner; version: string } | string> {
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 missing';
  const runner = new LineRunner('/usr/bin/python3', [
    join(root, 'bench/torch_optim.py'),
    String(n),
  ]);
  const version = await runner.next();
  if (version === '') {
    const msg = runner.stderr.trim().split('\n').pop() ?? 'failed';
    return msg.includes('No module named') ? 'python3-torch not installed' : msg;
  }
  return { runner, version };
}

/** Steps per sample so that a sample lasts >= 20 ms (from one timed step). */
function stepsPerSample(secondsPerStep: number): number {
  return Math.max(1, Math.min(1000, Math.ceil(0.02 / Math.max(secondsPerStep, 1e-7))));
}

/** Wall-clock and process CPU seconds per step. */
interface Sample {
  wall: number;
  cpu: number;
}

/** One sample: seconds per step over `per` steps. */
function sampleSync(step: () => void, per: number): Sample {
  const c = process.cpuUsage();
  const a = performance.now();
  for (let k = 0; k < per; k++) step();
  const wall = (performance.now() - a) / 1000 / per;
  const used = process.cpuUsage(c);
  return { wall, cpu: (used.user + used.system) / 1e6 / per };
}

function fmt(x: number, digits = 0): string {
  return x.toFixed(digits);
}

function printTable(n: number, rows: Row[]): Map<string, number> {
  const rate = new Map<string, number>();
  cpuRate.clear();
  console.log(
    `\n### ${n.toLocaleString('en-US')} params (AdamW step, ${BYTES_PER_PARAM} B/param)\n`,
  );
  console.log('| implementation | Mparam/s | GB/s | ms/step | Mparam/s per CPU-s | note |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const r of rows) {
    if (r.seconds === null) {
      console.log(`| ${r.name} | - | - | - | - | ${r.note ?? ''} |`);
      continue;
    }
    const mps = n / r.seconds / 1e6;
    rate.set(r.name, mps);
    const gbs = (mps * (r.bytesPerParam ?? BYTES_PER_PARAM)) / 1000;
    const perCpu = r.cpuSeconds === undefined ? '' : fmt(n / r.cpuSeconds / 1e6);
    if (r.cpuSeconds !== undefined) cpuRate.set(r.name, n / r.cpuSeconds / 1e6);
    console.log(
      `| ${r.name} | ${fmt(mps)} | ${fmt(gbs, 1)} | ${fmt(r.seconds * 1000, 3)} | ${perCpu} | ${r.note ?? ''} |`,
    );
  }
  return rate;
}

/** Per-CPU-second rates of the rows of the last table that have them. */
const cpuRate = new Map<string, number>();

function ratio(rate: Map<string, number>, a: string, b: string, label: string): void {
  const x = rate.get(a);
  const y = rate.get(b);
  if (x === undefined || y === undefined) return;
  const cx = cpuRate.get(a);
  const cy = cpuRate.get(b);
  const byCpu =
    cx !== undefined && cy !== undefined ? ` (per CPU-second: ${(cx / cy).toFixed(2)}x)` : '';
  console.log(`- ${label}: ${(x / y).toFixed(2)}x${byCpu}`);
}

async function main(): Promise<void> {
  console.log(
    `bench:optim ${quick ? '(quick) ' : ''}sizes ${sizes.join(', ')}; ${SAMPLES} samples; ` +
      `${cores} cores; node ${process.version}; load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
  );
  const K1 = 'fused wasm kernel, 1 thread (arena)';
  const KA = `fused wasm kernel, ${cores} threads (arena)`;
  const KS = 'fused wasm kernel, 1 thread (plain arrays, staged)';
  const KO = 'fused wasm kernel, 1 thread (plain p and g staged, state in kernel memory)';
  const KF = 'fused wasm kernel, first step on fresh pages';
  const REF = 'reference JS loop';
  const TW = 'tf.train.adam, tfjs wasm';
  const TC = 'tf.train.adam, tfjs cpu';
  const PF = 'PyTorch AdamW foreach=True, 1 thread';
  const PS = 'PyTorch AdamW foreach=False, 1 thread';
  const N1 = 'native C fused loop, 1 thread';
  const NA = `native C fused loop, ${cores} threads`;
  const SC = 'non-finite scan, wasm allFinite (SIMD)';
  const SJ = 'non-finite scan, JS loop';
  const NC = 'native C fused loop, 1 thread, 128-bit vectors';
  const SF1 = 'schedule-free AdamW: fused wasm kernel, 1 thread (arena)';
  const SFR = 'schedule-free AdamW: reference JS loop';
  for (const n of sizes) {
    const rows: Row[] = [];
    // Interleaved rounds: each round takes one sample of every implementation below, so load from
    // other processes on the machine hits them alike; the figure is the median over rounds.
    const arena = createArena(4 * n + 64);
    const [p, g, m, v] = [arena.alloc(n), arena.alloc(n), arena.alloc(n), arena.alloc(n)];
    fillInputs(p, g);
    let t = 1;
    const kernelStep = () => wasmKernels.adam(p, g, m, v, null, adamwScalars(t++));
    // Schedule-free AdamW on the same arena arrays (y = p, z = m): timing only, no extra memory.
    let sfT = 1;
    const scheduleFreeStep = () => wasmKernels.scheduleFree(p, g, m, v, scheduleFreeScalars(sfT++));
    await initKernels({ threads: cores, minParallelLength: 1 });
    const threaded = (on: boolean) => setThreadPool(getThreadPool(), on ? 1 : 2 ** 31);
    threaded(false);
    kernelStep();
    kernelStep();
    scheduleFreeStep();
    scheduleFreeStep();
    const t0 = performance.now();
    kernelStep();
    const per = stepsPerSample((performance.now() - t0) / 1000);
    const bin = compileNative();
    const native = bin ? new LineRunner(bin, [String(n)]) : null;
    const native128 = bin ? new LineRunner(`${bin}-128`, [String(n)]) : null;
    const torch = await startTorch(n);
    const torchRunner = typeof torch === 'string' ? null : torch.runner;
    const torchPer = n > 1e7 ? 1 : Math.max(1, per >> 3);
    const samples = new Map<string, Sample[]>();
    const add = (name: string, x: Sample) => samples.set(name, [...(samples.get(name) ?? []), x]);
    // Warm-up round (untimed): tier-up, caches, thread start.
    if (native) await native.sample(`${per} 1`);
    if (native128) await native128.sample(`${per} 1`);
    if (torchRunner) await torchRunner.sample(`${torchPer} foreach`);
    threaded(true);
    kernelStep();
    const [stagedAll, stagedOwn] = [stagedStep(n, false), stagedStep(n, true)];
    for (let r = 0; r < SAMPLES; r++) {
      threaded(false);
      add(K1, sampleSync(kernelStep, per));
      add(SF1, sampleSync(scheduleFreeStep, per));
      add(KO, sampleSync(stagedOwn, per));
      add(KS, sampleSync(stagedAll, per));
      threaded(true);
      add(KA, sampleSync(kernelStep, per));
      threaded(false);
      if (native) {
        add(N1, await native.sample(`${per} 1`));
        add(NA, await native.sample(`${per} ${cores}`));
      }
      if (native128) add(NC, await native128.sample(`${per} 1`));
      if (torchRunner && (r < 3 || n <= 1e7)) {
        add(PF, await torchRunner.sample(`${torchPer} foreach`));
        add(PS, await torchRunner.sample(`${torchPer} single`));
      }
    }
    native?.close();
    native128?.close();
    torchRunner?.close();
    arena.dispose();
    await shutdownKernels();
    const med = (name: string) => {
      const xs = samples.get(name);
      return xs ? median(xs.map((x) => x.wall)) : null;
    };
    const cpu = (name: string) => {
      const xs = samples.get(name);
      return xs ? median(xs.map((x) => x.cpu)) : undefined;
    };
    rows.push({ name: K1, seconds: med(K1), cpuSeconds: cpu(K1) });
    rows.push({ name: KA, seconds: med(KA), note: 'threads forced at every size' });
    rows.push({
      name: KO,
      seconds: med(KO),
      cpuSeconds: cpu(KO),
      note: "an optimizer's default on plain arrays",
    });
    rows.push({ name: KS, seconds: med(KS), cpuSeconds: cpu(KS), note: 'all four arrays staged' });
    rows.push({
      name: KF,
      seconds: benchFirstTouch(n),
      note: 'one step; the state pages are faulted in during it',
    });
    rows.push({ name: REF, seconds: benchReference(n) });
    rows.push({
      name: SF1,
      seconds: med(SF1),
      cpuSeconds: cpu(SF1),
      note: 'y, g, z, v: 28 B/param; decay on',
    });
    rows.push({ name: SFR, seconds: benchScheduleFreeReference(n) });
    try {
      rows.push({ name: TW, seconds: await benchTfjs(n, 'wasm') });
    } catch (e) {
      // At 64M params Adam's tensors and temporaries exceed tfjs-backend-wasm's heap (it aborts).
      rows.push({ name: TW, seconds: null, note: `failed: ${String(e).split('\n')[0]}` });
    }
    if (n <= 4_000_000) rows.push({ name: TC, seconds: await benchTfjs(n, 'cpu') });
    else rows.push({ name: TC, seconds: null, note: 'skipped above 4M params (minutes per step)' });
    const torchNote = typeof torch === 'string' ? torch : `torch ${torch.version}`;
    rows.push({ name: PF, seconds: med(PF), cpuSeconds: cpu(PF), note: torchNote });
    rows.push({ name: PS, seconds: med(PS), cpuSeconds: cpu(PS), note: torchNote });
    const nativeNote = bin ? NATIVE_FLAGS.join(' ') : 'gcc not available';
    rows.push({ name: N1, seconds: med(N1), cpuSeconds: cpu(N1), note: nativeNote });
    rows.push({ name: NA, seconds: med(NA), note: 'a pthread_create per step' });
    rows.push({
      name: NC,
      seconds: med(NC),
      cpuSeconds: cpu(NC),
      note: '+ -mprefer-vector-width=128 -mno-avx512f (wasm width)',
    });
    const scan = benchFiniteScan(n);
    rows.push(
      { name: SC, seconds: scan.simd, note: 'reads g only: 4 B/param', bytesPerParam: 4 },
      { name: SJ, seconds: scan.js, note: "the core's findNonFinite loop", bytesPerParam: 4 },
    );
    const rate = printTable(n, rows);
    console.log('');
    ratio(rate, K1, PS, 'kernel 1 thread / PyTorch foreach=False');
    ratio(rate, K1, PF, 'kernel 1 thread / PyTorch foreach=True');
    ratio(rate, K1, N1, 'kernel 1 thread / native C 1 thread');
    ratio(rate, KA, K1, `kernel ${cores} threads / kernel 1 thread`);
    ratio(rate, NA, N1, `native C ${cores} threads / native C 1 thread`);
    ratio(rate, K1, NC, 'kernel 1 thread / native C 1 thread at 128-bit width');
    ratio(rate, KO, K1, 'staged p and g (state in kernel memory) / in place');
    ratio(rate, KS, K1, 'all staged / in place');
    ratio(rate, K1, REF, 'kernel 1 thread / reference JS loop');
    ratio(rate, SF1, K1, 'schedule-free AdamW kernel / AdamW kernel (1 thread, arena)');
    ratio(rate, SF1, SFR, 'schedule-free AdamW kernel / its reference JS loop');
    ratio(rate, SC, SJ, 'non-finite scan: SIMD / JS loop');
    ratio(rate, K1, TW, 'kernel 1 thread / tf.train.adam wasm');
    ratio(rate, K1, TC, 'kernel 1 thread / tf.train.adam cpu');
  }
  console.log(`\nthreads after the run: ${kernelThreads()}`);
}

await main();
