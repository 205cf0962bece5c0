/**
 * `npm run bench:optim`: throughput of one AdamW step (28 bytes of memory traffic per parameter:
 * read p, g, m, v; write p, m, v) for this project's fused WASM SIMD kernel against its peers, all
 * measured in the same run: the kernel on 1 thread and on all threads (in place in an arena), the
 * kernel on plain arrays (staged copy in/out), the reference JS loop, tf.train.adam on the tfjs cpu
 * and wasm backends, PyTorch AdamW (foreach on and off, 1 thread) through Debian's python3-torch,
 * and a native C fused loop compiled here with gcc -O3 -march=native -fno-math-errno.
 * Prints Mparam/s, GB/s and ratios; each figure is the median of several timed samples.
 *
 * Quick mode (BENCH_QUICK=1 or --quick): 100K and 4M params, fewer samples.
 * BENCH_SIZES=100000,4000000 overrides the sizes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AdamScalars, adamReferenceUpdate } from '../src/core/kernels.js';
import {
  createArena,
  initKernels,
  kernelThreads,
  shutdownKernels,
  wasmKernels,
} from '../src/kernels/index.js';

const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const sizes = (process.env.BENCH_SIZES ?? (quick ? '100000,4000000' : '100000,4000000,64000000'))
  .split(',')
  .map(Number);
const SAMPLES = quick ? 5 : 9;
const BYTES_PER_PARAM = 28;
const cores = availableParallelism();
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

function fillInputs(p: Float32Array, g: Float32Array): void {
  p.fill(0.01);
  for (let i = 0; i < g.length; i++) g[i] = ((i % 1000) - 500) * 1e-6;
}

type Row = { name: string; seconds: number | null; note?: string; bytesPerParam?: number };

/** The fused kernel in place in a prefaulted arena, on the current thread setting. */
function benchArena(n: number): { steady: number; firstTouch: number } {
  const arena = createArena(4 * n + 64, { prefault: false });
  const [p, g, m, v] = [arena.alloc(n), arena.alloc(n), arena.alloc(n), arena.alloc(n)];
  // The first step on never-touched pages pays one page fault per 4 KiB: measured once here
  // (p and g are filled first, as a user would; m and v are fresh zero pages).
  fillInputs(p, g);
  let t = 1;
  const a = performance.now();
  wasmKernels.adam(p, g, m, v, null, adamwScalars(t++));
  const firstTouch = (performance.now() - a) / 1000;
  const steady = timeSteps(() => wasmKernels.adam(p, g, m, v, null, adamwScalars(t++)), SAMPLES);
  arena.dispose();
  return { steady, firstTouch };
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

function benchStaged(n: number): number {
  const [p, g, m, v] = [0, 1, 2, 3].map(() => new Float32Array(n));
  fillInputs(p, g);
  let t = 1;
  return timeSteps(() => wasmKernels.adam(p, g, m, v, null, adamwScalars(t++)), SAMPLES);
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

function benchTorch(n: number): { foreach: number; single: number; version: string } | string {
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 missing';
  const reps = n > 1e7 ? 3 : SAMPLES;
  const res = spawnSync(
    '/usr/bin/python3',
    [join(root, 'bench/torch_optim.py'), String(n), String(reps)],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (res.status !== 0) {
    const msg = res.stderr.trim().split('\n').pop() ?? 'failed';
    return msg.includes('No module named') ? 'python3-torch not installed' : msg;
  }
  const out = JSON.parse(res.stdout) as { foreach: number[]; single: number[]; torch: string };
  return { foreach: median(out.foreach), single: median(out.single), version: out.torch };
}

let nativeBinary: string | null | undefined;
function compileNative(): string | null {
  if (nativeBinary !== undefined) return nativeBinary;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'decoupled-native-'));
    const bin = join(dir, 'adamw');
    const src = join(root, 'bench/native/adamw.c');
    const flags = ['-O3', '-march=native', '-fno-math-errno'];
    execFileSync('gcc', [...flags, '-o', bin, src, '-lm', '-lpthread'], { stdio: 'pipe' });
    nativeBinary = bin;
  } catch {
    nativeBinary = null;
  }
  return nativeBinary;
}

function benchNative(n: number, threads: number): number | null {
  const bin = compileNative();
  if (!bin) return null;
  // Several short reps per sample would hide nothing: the binary prints one time per rep.
  const reps = n < 1e6 ? 2000 : n > 1e7 ? SAMPLES : 3 * SAMPLES;
  const out = execFileSync(bin, [String(n), String(reps), String(threads)], { encoding: 'utf8' });
  const times = out.trim().split('\n').map(Number).slice(1);
  if (n < 1e6) {
    // Group the many tiny reps into samples of 200, like timeSteps does.
    const groups: number[] = [];
    for (let i = 0; i + 200 <= times.length; i += 200) {
      groups.push(times.slice(i, i + 200).reduce((a, b) => a + b, 0) / 200);
    }
    return median(groups);
  }
  return median(times);
}

function fmt(x: number, digits = 0): string {
  return x.toFixed(digits);
}

function printTable(n: number, rows: Row[]): Map<string, number> {
  const rate = new Map<string, number>();
  console.log(
    `\n### ${n.toLocaleString('en-US')} params (AdamW step, ${BYTES_PER_PARAM} B/param)\n`,
  );
  console.log('| implementation | Mparam/s | GB/s | ms/step | note |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of rows) {
    if (r.seconds === null) {
      console.log(`| ${r.name} | - | - | - | ${r.note ?? ''} |`);
      continue;
    }
    const mps = n / r.seconds / 1e6;
    rate.set(r.name, mps);
    const gbs = (mps * (r.bytesPerParam ?? BYTES_PER_PARAM)) / 1000;
    console.log(
      `| ${r.name} | ${fmt(mps)} | ${fmt(gbs, 1)} | ${fmt(r.seconds * 1000, 3)} | ${r.note ?? ''} |`,
    );
  }
  return rate;
}

function ratio(rate: Map<string, number>, a: string, b: string, label: string): void {
  const x = rate.get(a);
  const y = rate.get(b);
  if (x === undefined || y === undefined) return;
  console.log(`- ${label}: ${(x / y).toFixed(2)}x`);
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
  for (const n of sizes) {
    const rows: Row[] = [];
    await shutdownKernels();
    const one = benchArena(n);
    rows.push({ name: K1, seconds: one.steady });
    await initKernels({ threads: cores, minParallelLength: 1 });
    const all = benchArena(n);
    rows.push({ name: KA, seconds: all.steady, note: `threads forced at every size` });
    await shutdownKernels();
    rows.push({ name: KS, seconds: benchStaged(n), note: 'copy in/out through L2-sized chunks' });
    rows.push({
      name: KF,
      seconds: one.firstTouch,
      note: 'one step; state pages faulted in during the step',
    });
    rows.push({ name: REF, seconds: benchReference(n) });
    rows.push({ name: TW, seconds: await benchTfjs(n, 'wasm') });
    if (n <= 4_000_000) rows.push({ name: TC, seconds: await benchTfjs(n, 'cpu') });
    else rows.push({ name: TC, seconds: null, note: 'skipped above 4M params (minutes per step)' });
    const torch = benchTorch(n);
    if (typeof torch === 'string') {
      rows.push({ name: PF, seconds: null, note: torch }, { name: PS, seconds: null, note: torch });
    } else {
      rows.push(
        { name: PF, seconds: torch.foreach, note: `torch ${torch.version}` },
        { name: PS, seconds: torch.single, note: `torch ${torch.version}` },
      );
    }
    const native1 = benchNative(n, 1);
    rows.push({ name: N1, seconds: native1, note: native1 === null ? 'gcc not available' : '' });
    rows.push({ name: NA, seconds: benchNative(n, cores) });
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
    ratio(rate, K1, KS, 'kernel in place / kernel staged');
    ratio(rate, K1, REF, 'kernel 1 thread / reference JS loop');
    ratio(rate, SC, SJ, 'non-finite scan: SIMD / JS loop');
    ratio(rate, K1, TW, 'kernel 1 thread / tf.train.adam wasm');
    ratio(rate, K1, TC, 'kernel 1 thread / tf.train.adam cpu');
  }
  console.log(`\nthreads after the run: ${kernelThreads()}`);
}

await main();
