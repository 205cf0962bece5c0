/** Bad input: every hyperparameter check, step input checks, and the non-finite gradient policy. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Adam, AdamW, NonFiniteGradientError, OptionError, SGD, SGDW } from 'decoupled';
import { assertBitEqual, randomArray } from '../helpers/arrays.js';

const param = () => [new Float32Array(4)];

/** Asserts that `fn` throws an OptionError naming `option` and the received value. */
function throwsOption(fn: () => unknown, option: string, shown: string) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof OptionError, `expected OptionError, got ${error}`);
    assert.equal(error.option, option);
    assert.match(error.message, new RegExp(option.replace(/[[\]().]/g, '\\$&')));
    assert.ok(error.message.includes(shown), `message "${error.message}" should show ${shown}`);
    return true;
  });
}

describe('constructor validation', () => {
  const adamCases: [string, Record<string, unknown>, string, string][] = [
    ['negative lr', { lr: -1 }, 'lr', '-1'],
    ['NaN lr', { lr: Number.NaN }, 'lr', 'NaN'],
    ['infinite lr', { lr: Number.POSITIVE_INFINITY }, 'lr', 'Infinity'],
    ['string lr', { lr: '0.1' }, 'lr', '"0.1"'],
    ['beta1 = 1', { betas: [1, 0.999] }, 'betas[0]', '1'],
    ['negative beta2', { betas: [0.9, -0.1] }, 'betas[1]', '-0.1'],
    ['one beta', { betas: [0.9] }, 'betas', '[0.9]'],
    ['eps = 0', { eps: 0 }, 'eps', '0'],
    ['negative weightDecay', { weightDecay: -0.1 }, 'weightDecay', '-0.1'],
    ['unknown decayScale', { decayScale: 'alpha' }, 'decayScale', '"alpha"'],
    ['non-boolean amsgrad', { amsgrad: 1 }, 'amsgrad', '1'],
    ['non-boolean maximize', { maximize: 'yes' }, 'maximize', '"yes"'],
    ['schedule not a function', { schedule: 3 }, 'schedule', '3'],
    ['unknown nonFinite', { nonFinite: 'warn' }, 'nonFinite', '"warn"'],
    ['unknown option', { learningRate: 0.1 }, 'learningRate', 'learningRate'],
  ];
  for (const [name, options, option, shown] of adamCases) {
    test(`AdamW and Adam reject ${name}`, () => {
      throwsOption(() => new AdamW(param(), options as never), option, shown);
      throwsOption(() => new Adam(param(), options as never), option, shown);
    });
  }

  const sgdCases: [string, Record<string, unknown>, string, string][] = [
    ['negative momentum', { momentum: -0.5 }, 'momentum', '-0.5'],
    ['nesterov without momentum', { nesterov: true }, 'nesterov', 'momentum > 0'],
    [
      'nesterov with dampening',
      { nesterov: true, momentum: 0.9, dampening: 0.1 },
      'nesterov',
      'dampening 0',
    ],
    ['negative lr', { lr: -0.1 }, 'lr', '-0.1'],
    ['betas (an Adam option)', { betas: [0.9, 0.99] }, 'betas', 'betas'],
  ];
  for (const [name, options, option, shown] of sgdCases) {
    test(`SGDW and SGD reject ${name}`, () => {
      throwsOption(() => new SGDW(param(), options as never), option, shown);
      throwsOption(() => new SGD(param(), options as never), option, shown);
    });
  }

  test('SGD has no decayScale (L2 is not scaled)', () => {
    throwsOption(() => new SGD(param(), { decayScale: 'lr' } as never), 'decayScale', 'decayScale');
    assert.doesNotThrow(() => new SGDW(param(), { decayScale: 'schedule' }));
  });

  test('params must be a non-empty array of Float32Array or groups', () => {
    throwsOption(() => new AdamW([]), 'params', '[]');
    throwsOption(() => new AdamW([[1, 2]] as never), 'params[0]', '[1, 2]');
    throwsOption(
      () => new AdamW([{ params: [new Float64Array(2)] }] as never),
      'params',
      'Float64Array',
    );
    const p = new Float32Array(2);
    throwsOption(() => new AdamW([p, p]), 'params', 'given twice');
  });

  test('a bad option inside a parameter group names the group', () => {
    assert.throws(
      () =>
        new AdamW([{ params: [new Float32Array(2)] }, { params: [new Float32Array(2)], lr: -2 }]),
      /group 1: lr must be a finite number >= 0; received -2/,
    );
  });

  test('defaults match PyTorch', () => {
    const w = new AdamW(param());
    assert.deepEqual(
      { ...w.paramGroups[0].hyper },
      {
        lr: 1e-3,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: 1e-2,
        decayScale: 'lr',
        amsgrad: false,
        maximize: false,
      },
    );
    assert.equal(new Adam(param()).paramGroups[0].hyper.weightDecay, 0);
    const s = new SGDW(param()).paramGroups[0].hyper;
    assert.deepEqual(
      { ...s },
      {
        lr: 1e-3,
        momentum: 0,
        dampening: 0,
        nesterov: false,
        weightDecay: 0,
        maximize: false,
        decayScale: 'lr',
      },
    );
  });
});

describe('step input checks leave every param untouched', () => {
  const make = () => {
    const params = [randomArray(5, 1), randomArray(3, 2)];
    const before = params.map((p) => p.slice());
    return { params, before, opt: new AdamW(params, { lr: 0.1 }) };
  };
  const unchanged = (params: Float32Array[], before: Float32Array[]) =>
    params.forEach((p, i) => {
      assertBitEqual(p, before[i], `param ${i}`);
    });

  test('wrong number of grads', () => {
    const { params, before, opt } = make();
    throwsOption(() => opt.step([new Float32Array(5)]), 'grads', 'length 1');
    unchanged(params, before);
    assert.equal(opt.stepCount, 0);
  });

  test('wrong length or type of one grad (checked before the first param is written)', () => {
    const { params, before, opt } = make();
    throwsOption(
      () => opt.step([new Float32Array(5), new Float32Array(4)]),
      'grads[1]',
      'length 4',
    );
    throwsOption(
      () => opt.step([new Float32Array(5), [0, 0, 0] as never]),
      'grads[1]',
      '[0, 0, 0]',
    );
    unchanged(params, before);
  });

  test('a schedule returning NaN or a negative value is rejected before any write', () => {
    const params = [randomArray(5, 1)];
    const before = params.map((p) => p.slice());
    const opt = new AdamW(params, { schedule: (t) => (t === 0 ? -1 : 1) });
    throwsOption(() => opt.step([randomArray(5, 3)]), 'schedule(step)', '-1');
    unchanged(params, before);
    const opt2 = new SGDW(params, { weightDecay: () => Number.NaN });
    throwsOption(() => opt2.step([randomArray(5, 3)]), 'weightDecay(step)', 'NaN');
    unchanged(params, before);
  });
});

describe('nonFinite policy', () => {
  const grads = () => [randomArray(5, 4), Float32Array.of(1, Number.NaN, 2)];

  test("'error' (default) throws NonFiniteGradientError naming the entry; nothing is written", () => {
    const params = [randomArray(5, 1), randomArray(3, 2)];
    const before = params.map((p) => p.slice());
    const opt = new AdamW(params);
    assert.throws(
      () => opt.step(grads()),
      (e: unknown) =>
        e instanceof NonFiniteGradientError && e.paramIndex === 1 && e.elementIndex === 1,
    );
    params.forEach((p, i) => {
      assertBitEqual(p, before[i]);
    });
    assert.throws(
      () => opt.step([randomArray(5, 4), Float32Array.of(0, 0, Number.NEGATIVE_INFINITY)]),
      /-Infinity/,
    );
  });

  test("'skip' skips the whole step, counts it, and keeps the step count", () => {
    const params = [randomArray(5, 1), randomArray(3, 2)];
    const before = params.map((p) => p.slice());
    const opt = new AdamW(params, { nonFinite: 'skip' });
    assert.equal(opt.step(grads()), false);
    assert.equal(opt.skippedSteps, 1);
    assert.equal(opt.stepCount, 0);
    params.forEach((p, i) => {
      assertBitEqual(p, before[i]);
    });
    assert.equal(opt.step([randomArray(5, 4), randomArray(3, 5)]), true);
    assert.equal(opt.stepCount, 1);
  });

  test("'ignore' does no check: the NaN propagates into the param", () => {
    const params = [randomArray(5, 1), randomArray(3, 2)];
    const opt = new SGD(params, { nonFinite: 'ignore' });
    opt.step(grads());
    assert.ok(Number.isNaN(params[1][1]));
  });
});

test('received values are shown as written: numbers, strings, arrays, plain objects', () => {
  throwsOption(() => new AdamW(param(), { lr: '1e-3' as never }), 'lr', 'received "1e-3"');
  throwsOption(() => new AdamW(param(), { betas: [0.9] as never }), 'betas', '[0.9] (length 1)');
  throwsOption(() => new AdamW(param(), { ema: { decay: 2 } }), 'ema.decay', 'received 2');
  throwsOption(
    () => new AdamW(param(), { nonFinite: { skip: true } as never }),
    'nonFinite',
    'received { skip: true }',
  );
});
