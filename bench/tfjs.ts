/**
 * One optimizer step of decoupled/tfjs AdamW against tf.train.adam on the same backend: 4M float32
 * params in 16 variables (512 x 512), on the cpu and wasm backends. Prints the median time per
 * step of each (after warm-up) and the ratio tf.train.adam / AdamW (higher is better for AdamW).
 *
 *   npm run build && npm run bench:tfjs        (node dist/bench/tfjs.js [--runs N])
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { AdamW } from '#decoupled/tfjs/index.js';
import { median, problem } from './tfjs-problem.js';

const VARIABLES = 16;
const SHAPE: [number, number] = [512, 512];
const PARAMS = VARIABLES * SHAPE[0] * SHAPE[1];

/**
 * Median ms of one applyGradients per optimizer. The optimizers take turns step by step (round
 * robin), so a slower or busier moment of the machine hits them all alike; 2 warm-up rounds.
 */
function timeRoundRobin(opts: tf.Optimizer[], runs: number, peerRuns: number): number[] {
  const problems = opts.map((_, i) => problem(tf, VARIABLES, SHAPE, 1000 * (i + 1)));
  const times: number[][] = opts.map(() => []);
  for (let r = 0; r < runs + 2; r++) {
    opts.forEach((opt, i) => {
      if (i === 0 && r >= peerRuns + 2) return;
      const start = performance.now();
      opt.applyGradients(problems[i].grads);
      const ms = performance.now() - start;
      if (r >= 2) times[i].push(ms);
    });
  }
  for (const [i, opt] of opts.entries()) {
    opt.dispose();
    tf.dispose([...problems[i].vars, ...problems[i].grads.map((g) => g.tensor)]);
  }
  return times.map(median);
}

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;

console.log(`One optimizer step, ${PARAMS / 2 ** 20}M float32 params in ${VARIABLES} variables`);
console.log(`median of ${runs} steps after 2 warm-up steps; Node ${process.version}\n`);
console.log(
  'backend  optimizer                              ms/step   Mparam/s   vs tf.train.adam',
);
for (const backend of ['cpu', 'wasm'] as const) {
  await tf.setBackend(backend);
  await tf.ready();
  // tf.train.adam is slow on cpu (about a second per step): fewer runs there.
  const peerRuns = backend === 'cpu' ? Math.min(runs, 5) : runs;
  const names = [
    'tf.train.adam',
    "AdamW (nonFinite 'error', the default)",
    "AdamW (nonFinite 'ignore')",
    'AdamW (clipNorm 1)',
  ];
  const medians = timeRoundRobin(
    [
      tf.train.adam(1e-3),
      new AdamW({ lr: 1e-3 }),
      new AdamW({ lr: 1e-3, nonFinite: 'ignore' }),
      new AdamW({ lr: 1e-3, clipNorm: 1 }),
    ],
    runs,
    peerRuns,
  );
  const peer = medians[0];
  const rows = names.map((name, i) => [name, medians[i]] as const);
  for (const [name, ms] of rows) {
    const rate = PARAMS / 1e6 / (ms / 1e3);
    const ratio = name === 'tf.train.adam' ? '' : `${(peer / ms).toFixed(1)}x`;
    console.log(
      `${backend.padEnd(8)} ${name.padEnd(38)} ${ms.toFixed(2).padStart(8)} ${rate.toFixed(0).padStart(10)}   ${ratio.padStart(8)}`,
    );
  }
}
