/**
 * bench:browser: one optimizer step of decoupled/tfjs AdamW against tf.train.adam on the webgl and
 * webgpu backends in headless Chromium, 1M float32 params in 16 variables (256 x 256). Prints the
 * median ms per step of each, the ratio tf.train.adam / AdamW (higher is better for AdamW) and the
 * backend reads per step. Headless Chromium on a machine without a GPU runs both backends on
 * SwiftShader, a CPU emulation: its figures are CPU figures, not GPU figures; the ratios and the
 * read counts are what carries over. `--profile` prints instead, per optimizer configuration
 * (with and without clipNorm), the backend programs of one step and the time of its step control
 * alone (bench/browser-profile.ts).
 *
 *   npm run build && npm run bench:browser
 *   (node dist/bench/browser.js [--rounds N] [--steps N] [--profile])
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withGpuPage } from '../test/tfjs/gpu-server.js';
import type { BenchRow } from './browser-page.js';
import type { ProfileRow } from './browser-profile.js';

const here = dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const rounds = arg('--rounds', 5);
const steps = arg('--steps', 3);
const profiling = process.argv.includes('--profile');

function printProfile(backend: string, rows: ProfileRow[]): void {
  for (const row of rows) {
    const control =
      row.controlMs === null
        ? ''
        : `; step control alone ${row.controlMs.toFixed(1)} ms, ${row.controlPrograms} programs`;
    console.log(
      `${backend} ${row.optimizer}: ${row.msPerStep.toFixed(1)} ms/step, ${row.programs} programs/step${control}`,
    );
    for (const n of row.byName) {
      const sizes = [...new Set(n.sizes)].join('/');
      console.log(`    ${String(n.sizes.length).padStart(4)} x ${n.name.padEnd(44)} out ${sizes}`);
    }
  }
}

await withGpuPage({ entry: join(here, 'browser-page.js') }, async (page, errors) => {
  await page.waitForFunction(() => '__bench' in globalThis, null, { timeout: 60_000 });
  console.log(`bench:browser: 1M params in 16 variables, ${rounds} rounds of ${steps} steps`);
  for (const backend of ['webgl', 'webgpu']) {
    if (profiling) {
      const rows = await page.evaluate(
        ([b, r, s]) =>
          (
            globalThis as unknown as {
              __profile: (b: string, r: number, s: number) => Promise<ProfileRow[]>;
            }
          ).__profile(b, r, s),
        [backend, rounds, steps] as const,
      );
      printProfile(backend, rows);
      continue;
    }
    const rows = await page.evaluate(
      ([b, r, s]) =>
        (
          globalThis as unknown as {
            __bench: (b: string, r: number, s: number) => Promise<BenchRow[]>;
          }
        ).__bench(b, r, s),
      [backend, rounds, steps] as const,
    );
    const peer = rows[0].msPerStep;
    for (const row of rows) {
      console.log(
        `${backend.padEnd(7)} ${row.optimizer.padEnd(28)} ${row.msPerStep.toFixed(1).padStart(8)} ms/step` +
          `  ${(peer / row.msPerStep).toFixed(2)}x tf.train.adam  reads/step ${row.readsPerStep}`,
      );
    }
  }
  if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
});
