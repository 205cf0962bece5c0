/** Parameter groups, decay exclusion and gradient clipping. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AdamW, clipGradNorm, groupParams, OptionError, orderByGroups, SGDW } from 'decoupled';
import { assertBitEqual, assertClose, randomArray } from '../helpers/arrays.js';

describe('groupParams', () => {
  test('the default rule excludes rank <= 1 params when shapes are known', () => {
    const groups = groupParams({
      'conv1.kernel': { values: new Float32Array(27), shape: [3, 3, 3, 1] },
      'conv1.bias': { values: new Float32Array(1), shape: [1] },
      'bn.gamma': { values: new Float32Array(1), shape: [1] },
      'dense.kernel': { values: new Float32Array(6), shape: [2, 3] },
    });
    assert.deepEqual(
      groups.map((g) => g.names),
      [
        ['conv1.kernel', 'dense.kernel'],
        ['conv1.bias', 'bn.gamma'],
      ],
    );
    assert.equal(groups[0].weightDecay, undefined);
    assert.equal(groups[1].weightDecay, 0);
  });

  test('with flat arrays the default rule goes by bias and normalization names', () => {
    const groups = groupParams([
      ['fc.weight', new Float32Array(4)],
      ['fc.bias', new Float32Array(2)],
      ['layer_norm.weight', new Float32Array(2)],
      ['block1.bn2.beta', new Float32Array(2)],
      ['embedding', new Float32Array(8)],
    ]);
    assert.deepEqual(groups[0].names, ['fc.weight', 'embedding']);
    assert.deepEqual(groups[1].names, ['fc.bias', 'layer_norm.weight', 'block1.bn2.beta']);
  });

  test('patterns and a predicate add exclusions; useDefaultRule: false turns the default off', () => {
    const named = {
      'a.kernel': new Float32Array(4),
      pos_embedding: new Float32Array(4),
      'a.bias': new Float32Array(1),
    };
    const custom = groupParams(named, { patterns: [/embedding/], useDefaultRule: false });
    assert.deepEqual(
      custom.map((g) => g.names),
      [['a.kernel', 'a.bias'], ['pos_embedding']],
    );
    const byPredicate = groupParams(named, { predicate: (name) => name.startsWith('a.k') });
    assert.deepEqual(
      byPredicate.map((g) => g.names),
      [['pos_embedding'], ['a.kernel', 'a.bias']],
    );
  });

  test('excluded params are not decayed by AdamW; the others are', () => {
    const kernel = randomArray(6, 1);
    const bias = randomArray(2, 2);
    const groups = groupParams({
      'd.kernel': { values: kernel, shape: [2, 3] },
      'd.bias': { values: bias, shape: [2] },
    });
    const kernel0 = kernel.slice();
    const bias0 = bias.slice();
    const opt = new AdamW(groups, { lr: 0.1, weightDecay: 0.5 });
    opt.step(
      orderByGroups(groups, { 'd.bias': new Float32Array(2), 'd.kernel': new Float32Array(6) }),
    );
    assertBitEqual(bias, bias0);
    assertClose(
      kernel,
      kernel0.map((x) => x * 0.95),
      { rtol: 1e-7 },
    );
  });

  test('per-group overrides apply to their group only', () => {
    const a = Float32Array.of(1);
    const b = Float32Array.of(1);
    const opt = new SGDW([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    opt.step([Float32Array.of(1), Float32Array.of(1)]);
    assertClose(a, [0.9]);
    assertClose(b, [0.5]);
  });

  test('bad input names the param', () => {
    assert.throws(() => groupParams({ w: [1, 2] as never }), OptionError);
    assert.throws(() => orderByGroups(groupParams({ w: new Float32Array(1) }), {}), /grads\['w'\]/);
  });
});

describe('clipGradNorm', () => {
  test('returns the norm before clipping and scales to maxNorm (PyTorch: max / (norm + 1e-6))', () => {
    const grads = [Float32Array.of(3, 0), Float32Array.of(0, 4)];
    const norm = clipGradNorm(grads, 1);
    assert.equal(norm, 5);
    const c = 1 / (5 + 1e-6);
    assertClose(grads[0], [3 * c, 0]);
    assertClose(grads[1], [0, 4 * c]);
  });

  test('leaves gradients below maxNorm untouched', () => {
    const g = randomArray(10, 3, 0.01);
    const before = g.slice();
    clipGradNorm([g], 10);
    assertBitEqual(g, before);
  });

  test('a non-finite norm leaves gradients for the optimizer to reject', () => {
    const g = Float32Array.of(1, Number.POSITIVE_INFINITY);
    assert.equal(clipGradNorm([g], 1), Number.POSITIVE_INFINITY);
    assert.equal(g[0], 1);
  });

  test('rejects a bad maxNorm', () => {
    assert.throws(
      () => clipGradNorm([new Float32Array(1)], 0),
      /maxNorm must be a finite number > 0; received 0/,
    );
    assert.throws(() => clipGradNorm([new Float32Array(1)], Number.NaN), /maxNorm/);
  });
});
