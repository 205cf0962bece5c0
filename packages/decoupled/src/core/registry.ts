/**
 * The core optimizers by kind (OPTIMIZER_KINDS of ./types.ts): their classes, their option names
 * and the kernel family each runs, for code that picks an optimizer by name (decoupled/tfjs).
 */
import { Adam, type AdamFamily, type AdamOptions, type AdamParams, adamDefaults } from './adam.js';
import { AdamW } from './adamw.js';
import { decoupledOptionalKeys } from './decay.js';
import { GLOBAL_OPTION_KEYS, type ParamGroupInput } from './optimizer.js';
import { SGD, type SGDWOptions, type SgdFamily, type SgdHyper, sgdDefaults } from './sgd.js';
import { SGDW } from './sgdw.js';
import type { OptimizerKind } from './types.js';

/** The update kernel an optimizer runs: Adam's (Adam, AdamW) or SGD's (SGD, SGDW). */
export type OptimizerFamily = 'adam' | 'sgd';

/** A core optimizer tagged with its family, so its plan's scalars have a known type. */
export type FamilyOptimizer =
  | { readonly family: 'adam'; readonly optimizer: AdamFamily }
  | { readonly family: 'sgd'; readonly optimizer: SgdFamily<SgdHyper> };

export function optimizerFamily(kind: OptimizerKind): OptimizerFamily {
  return kind === 'Adam' || kind === 'AdamW' ? 'adam' : 'sgd';
}

/**
 * Every option the constructor of `kind` takes that adapters pass on: its hyperparameters (with
 * cautiousDecay for AdamW and SGDW), schedule and global options. Not `ema` and `accumulate`
 * (CORE_ONLY_OPTION_KEYS of ./optimizer.ts), whose per-parameter state an adapter keeps itself.
 */
export function optimizerOptionNames(kind: OptimizerKind): readonly string[] {
  const decoupled = kind === 'AdamW' || kind === 'SGDW';
  const defaults = optimizerFamily(kind) === 'adam' ? adamDefaults(0) : sgdDefaults(decoupled);
  return [
    ...Object.keys(defaults),
    ...decoupledOptionalKeys(decoupled),
    'schedule',
    ...GLOBAL_OPTION_KEYS,
  ];
}

/**
 * A new core optimizer of `kind`. `options` are checked by its constructor (OptionError naming
 * the option), so they are typed loosely here.
 */
export function createOptimizer(
  kind: OptimizerKind,
  params: Float32Array[] | ParamGroupInput<SgdHyper>[],
  options: object,
): FamilyOptimizer {
  const adamParams = params as AdamParams;
  const adamOptions = options as AdamOptions;
  const sgdOptions = options as SGDWOptions;
  switch (kind) {
    case 'Adam':
      return { family: 'adam', optimizer: new Adam(adamParams, adamOptions) };
    case 'AdamW':
      return { family: 'adam', optimizer: new AdamW(adamParams, adamOptions) };
    case 'SGD':
      return { family: 'sgd', optimizer: new SGD(params, sgdOptions) };
    case 'SGDW':
      return { family: 'sgd', optimizer: new SGDW(params as never, sgdOptions) };
  }
}
