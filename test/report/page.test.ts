/** The page's words and chart settings: Setup in words, decay axes named from the config, fitted axes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lossAxis, round125 } from '#harness/report/figures.js';
import { describeSetup, heatmapPlans } from '#harness/report/page.js';
import { summarize } from '#harness/report/summary.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import { syntheticResult } from '../helpers/sweep-fakes.js';

/** The quick preset's shape: Adam with an L2 grid, AdamW with λ_norm scaled by η_t. */
function quickLike() {
  const spec = parseSweepSpec({
    name: 'quick-like',
    base: { model: { kind: 'mlp', hidden: [128] }, subset: 4000, testSubset: 2000, epochs: 3 },
    grid: { optimizer: ['adam', 'adamw'], lr: [3e-4, 1e-3, 3e-3], weightDecay: [0], seed: [1, 2] },
    perOptimizer: {
      adam: { weightDecay: [0, 1e-4, 1e-3] },
      adamw: {
        base: { weightDecayNorm: true, decayScale: 'schedule' },
        weightDecay: [0, 0.05, 0.2],
      },
    },
  });
  const trials = expandGrid(spec);
  const results = trials.map((t) =>
    syntheticResult(t, 0.2 - 10 * t.params.lr + 0.1 * t.params.weightDecay + 0.001 * t.params.seed),
  );
  const { summary, cells } = summarize(spec, trials, results);
  return { summary, cells, trials, results, top: 3 };
}

test('Setup is written in words, with what each weight decay means', () => {
  const input = quickLike();
  const setup = describeSetup(input.summary, input.trials);
  assert.match(
    setup[0],
    /^Data: Fashion-MNIST, 4,000 training images, 2,000 test images\. Model: an MLP with one hidden layer of 128 units\. Training: 3 epochs at batch size 128, cosine schedule, 2 seeds \(1 and 2\)\.$/,
  );
  assert.match(setup[1], /^Adam\+L2: the weight decay is an L2 factor/);
  assert.match(setup[2], /^AdamW: the weight decay is the normalized λ_norm.*η_t only/);
  for (const line of setup) assert.doesNotMatch(line, /[{}[\]"]/, line);
});

test('each heatmap names what its decay axis holds; the clamped colour scale is marked', () => {
  const [adam, adamw] = heatmapPlans(quickLike());
  const axisTitle = (plan: { spec: unknown }) =>
    (plan.spec as { encoding: { x: { title: string } } }).encoding.x.title;
  assert.equal(axisTitle(adam), 'L2 factor (added to the gradient)');
  assert.equal(axisTitle(adamw), 'λ_norm (normalized decoupled decay, × η_t)');
  const json = JSON.stringify(adamw.spec);
  assert.match(json, /"clamp":true/);
  assert.match(json, /'≥ ' \+ datum\.label/);
  assert.match(json, /clamped at the top/);
  // The iso-τ lines are drawn (a dashed line layer) on the decoupled heatmap only.
  assert.match(json, /"strokeDash":\[6,4\]/);
  assert.doesNotMatch(JSON.stringify(adam.spec), /strokeDash/);
});

test('the loss axis fits the data: linear under a 10x span, else log with 1-2-5 bounds', () => {
  const linear = lossAxis([0.4, 0.7, 1.1]);
  assert.equal('type' in linear.scale, false);
  assert.deepEqual(linear.scale, { zero: false, nice: true });
  const log = lossAxis([0.013, 0.5, 1.7]);
  assert.deepEqual(log.scale, { type: 'log', domain: [0.01, 2], nice: false });
  assert.equal(round125(0.4, 'down'), 0.2);
  assert.equal(round125(1.1, 'up'), 2);
  assert.equal(round125(0.05, 'down'), 0.05);
  assert.equal(round125(6, 'up'), 10);
});
