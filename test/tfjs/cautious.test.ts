/**
 * cautiousDecay in decoupled/tfjs: the option reaches the kernels (the trajectory tests in
 * ./optimizers.test.ts compare it with the core bit for bit), changes the result, and survives
 * getConfig/fromConfig; Adam and SGD reject it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, AdamW, SGD, SGDW } from '#decoupled/tfjs/index.js';
import { prng, randomArray, useBackend } from './helpers.js';

function run(opt: AdamW | SGDW, seed: number): number[] {
  const rand = prng(seed);
  const v = tf.variable(
    tf.tensor(randomArray(rand, 80), [8, 10]),
    true,
    `cautious_${seed}_${Math.random()}`,
  );
  for (let s = 0; s < 3; s++) {
    const g = tf.tensor(randomArray(rand, 80), [8, 10]);
    opt.applyGradients([{ name: v.name, tensor: g }]);
    g.dispose();
  }
  const out = Array.from(v.dataSync());
  v.dispose();
  opt.dispose();
  return out;
}

test('tfjs: cautiousDecay changes the step and survives getConfig / fromConfig', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    const options = { lr: 0.05, weightDecay: 0.5 };
    const cautious = new AdamW({ ...options, cautiousDecay: true });
    const config = cautious.getConfig();
    assert.equal(config.cautiousDecay, true);
    assert.equal('cautiousDecay' in new AdamW(options).getConfig(), false);
    const rebuilt = AdamW.fromConfig(AdamW, config) as AdamW;
    const a = run(cautious, 3);
    assert.deepEqual(run(rebuilt, 3), a, `${backend}: rebuilt from its config`);
    assert.notDeepEqual(run(new AdamW(options), 3), a, `${backend}: plain AdamW differs`);
    const sgdw = new SGDW({ ...options, momentum: 0.9, cautiousDecay: true });
    assert.equal(sgdw.getConfig().cautiousDecay, true);
    sgdw.dispose();
  }
});

test('tfjs: Adam and SGD reject cautiousDecay as an unknown option', () => {
  assert.throws(() => new Adam({ cautiousDecay: true } as never), /unknown option cautiousDecay/);
  assert.throws(() => new SGD({ cautiousDecay: true } as never), /unknown option cautiousDecay/);
});
