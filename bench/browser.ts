/**
 * bench:browser: one optimizer step of decoupled/tfjs AdamW against tf.train.adam on the webgl and
 * webgpu backends in headless Chromium, 1M float32 params in 16 variables (256 x 256). The
 * optimizers take turns round by round (`--steps` steps each, then a wait for the device), after a
 * warm-up step that compiles the shaders. For each it prints the median wall ms per step, the
 * median CPU ms per step of the browser's processes (SwiftShader runs the GPU work on the CPU, so
 * this is the work a step costs, which other processes' load does not distort), both ratios
 * tf.train.adam / AdamW (higher is better for AdamW), and the backend reads per step.
 *
 * Headless Chromium on a machine without a GPU runs both backends on SwiftShader, a CPU
 * emulation: its figures are CPU figures, not GPU figures; the ratios of passes and the read
 * counts are what carries over. `--profile` adds AdamW with clipNorm and the step control alone
 * (clip and finite check), and lists the backend programs of one step of each (webgl programs,
 * webgpu dispatches: bench/browser-profile.ts).
 *
 *   npm run build && npm run bench:browser
 *   (node dist/bench/browser.js [--rounds N] [--steps N] [--profile])
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { withGpuPage } from '../test/tfjs/gpu-server.js';
import type { BenchApi } from './browser-page.js';
import { median } from './tfjs-problem.js';

const here = dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const rounds = arg('--rounds', 7);
const steps = arg('--steps', 3);
const profiling = process.argv.includes('--profile');
const TICK_MS = 1000 / 100; // USER_HZ: /proc's CPU times are in 1/100 s on Linux

/**
 * CPU ms (user + system) of every live process descended from this one: the browser and its
 * renderer and GPU processes. Null where /proc is missing.
 */
function browserCpuMs(): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return null;
  }
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const e of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the command name (which may hold spaces): state, ppid, ..., utime, stime.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parent.set(Number(e), Number(f[1]));
    ticks.set(Number(e), Number(f[11]) + Number(f[12]));
  }
  let total = 0;
  for (const [pid, t] of ticks) {
    let p: number | undefined = pid;
    while (p !== undefined && p > 1 && p !== process.pid) p = parent.get(p);
    if (p === process.pid && pid !== process.pid) total += t;
  }
  return total * TICK_MS;
}

/** Calls `__bench[fn](...args)` in the page (bench/browser-page.ts). */
function call<K extends keyof BenchApi>(
  page: Page,
  fn: K,
  ...args: Parameters<BenchApi[K]>
): Promise<Awaited<ReturnType<BenchApi[K]>>> {
  type Bench = Record<string, (...x: unknown[]) => unknown>;
  return page.evaluate(([f, a]) => (globalThis as unknown as { __bench: Bench }).__bench[f](...a), [
    fn as string,
    args as unknown[],
  ] as const) as Promise<Awaited<ReturnType<BenchApi[K]>>>;
}

await withGpuPage({ entry: join(here, 'browser-page.js') }, async (page, errors) => {
  await page.waitForFunction(() => '__bench' in globalThis, null, { timeout: 60_000 });
  console.log(
    `bench:browser: 1M params in 16 variables, ${rounds} rounds of ${steps} steps` +
      ` (ratios: tf.train.adam / row, wall and browser CPU)`,
  );
  for (const backend of ['webgl', 'webgpu']) {
    const names = await call(page, 'setup', backend, profiling);
    const wall: number[][] = names.map(() => []);
    const cpu: number[][] = names.map(() => []);
    const reads: number[] = names.map(() => 0);
    for (let r = 0; r < rounds; r++) {
      for (const [i] of names.entries()) {
        const before = browserCpuMs();
        const out = await call(page, 'run', i, steps);
        const after = browserCpuMs();
        wall[i].push(out.ms);
        if (before !== null && after !== null) cpu[i].push((after - before) / steps);
        reads[i] = Math.max(reads[i], out.reads);
      }
    }
    const peerWall = median(wall[0]);
    const peerCpu = cpu[0].length ? median(cpu[0]) : Number.NaN;
    for (const [i, name] of names.entries()) {
      const w = median(wall[i]);
      const c = cpu[i].length ? median(cpu[i]) : Number.NaN;
      const fields = [
        `${backend.padEnd(7)} ${name.padEnd(40)}`,
        `${w.toFixed(1).padStart(7)} ms/step ${(peerWall / w).toFixed(2).padStart(5)}x wall`,
        `${c.toFixed(1).padStart(7)} CPU ms/step ${(peerCpu / c).toFixed(2).padStart(5)}x CPU`,
        `reads/step ${reads[i]}`,
      ];
      console.log(fields.join('  '));
      if (profiling) {
        for (const n of await call(page, 'programs', i)) {
          const sizes = [...new Set(n.sizes)].join('/');
          console.log(
            `        ${String(n.sizes.length).padStart(4)} x ${n.name.padEnd(44)} out ${sizes}`,
          );
        }
      }
    }
    await call(page, 'teardown');
  }
  if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
});
