/**
 * The tfjs optimizers: the core's Adam, AdamW, SGD, SGDW, AdamWR and SGDWR (same options, same
 * math, see src/core) as tf.Optimizer subclasses, registered for tfjs serialization under
 * `decoupled.<Name>` (distinct from tfjs' own 'Adam' and 'SGD').
 *
 *   AdamW  theta <- theta (1 - lr_t lambda_t), then Adam on the plain gradient   (Algorithm 2)
 *   Adam   g <- g + lambda_t theta (coupled L2), then Adam
 *   SGDW   theta <- theta (1 - lr_t lambda_t), then SGD with momentum            (Algorithm 1)
 *   SGD    g <- g + lambda_t theta, then SGD with momentum
 *   AdamWR / SGDWR: AdamW / SGDW with cosine warm restarts and normalized decay, decay scaled
 *   by eta_t (src/core/restarts.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamOptions } from '../core/adam.js';
import { splitWarmRestartOptions, type WarmRestartSettings } from '../core/restarts.js';
import type { SGDOptions, SGDWOptions } from '../core/sgd.js';
import { DecoupledOptimizer, type TfjsExtraOptions } from './optimizer.js';

type ConfigDict = tf.serialization.ConfigDict;
type Ctor<T extends tf.serialization.Serializable> = tf.serialization.SerializableConstructor<T>;

/** Core options decoupled/tfjs does not take: its own kernels (ema and accumulate: ./options.ts). */
type CoreOnly = 'kernels' | 'ema' | 'accumulate';
export type AdamWOptions = Omit<AdamOptions, CoreOnly> & TfjsExtraOptions;
export type AdamTfjsOptions = Omit<AdamOptions, CoreOnly> & TfjsExtraOptions;
export type SGDWTfjsOptions = Omit<SGDWOptions, CoreOnly> & TfjsExtraOptions;
export type SGDTfjsOptions = Omit<SGDOptions, CoreOnly> & TfjsExtraOptions;
export type AdamWRTfjsOptions = WarmRestartSettings &
  Omit<AdamWOptions, 'schedule' | 'weightDecay' | 'decayScale'>;
export type SGDWRTfjsOptions = WarmRestartSettings &
  Omit<SGDWTfjsOptions, 'schedule' | 'weightDecay' | 'decayScale'>;

export function fromConfig<T extends tf.serialization.Serializable>(
  cls: Ctor<T>,
  config: ConfigDict,
): T {
  return new cls(DecoupledOptimizer.optionsFromConfig(config));
}

/** AdamW: Adam with decoupled weight decay (defaults: lr 1e-3, weightDecay 1e-2). */
export class AdamW extends DecoupledOptimizer {
  static get className(): string {
    return 'decoupled.AdamW';
  }
  static override fromConfig = fromConfig;
  constructor(options: AdamWOptions = {}) {
    super('AdamW', options, 'AdamW');
  }
}

/** Adam with coupled L2 (weightDecay added to the gradient; default 0). */
export class Adam extends DecoupledOptimizer {
  static get className(): string {
    return 'decoupled.Adam';
  }
  static override fromConfig = fromConfig;
  constructor(options: AdamTfjsOptions = {}) {
    super('Adam', options, 'Adam');
  }
}

/** SGDW: SGD with momentum and decoupled weight decay. */
export class SGDW extends DecoupledOptimizer {
  static get className(): string {
    return 'decoupled.SGDW';
  }
  static override fromConfig = fromConfig;
  constructor(options: SGDWTfjsOptions = {}) {
    super('SGDW', options, 'SGDW');
  }
}

/** SGD with momentum and coupled L2. */
export class SGD extends DecoupledOptimizer {
  static get className(): string {
    return 'decoupled.SGD';
  }
  static override fromConfig = fromConfig;
  constructor(options: SGDTfjsOptions = {}) {
    super('SGD', options, 'SGD');
  }
}

/** The config of a warm-restart optimizer: its settings instead of the schedule they make. */
function restartsConfig(base: ConfigDict, settings: WarmRestartSettings): ConfigDict {
  const { schedule: _s, weightDecay: _w, decayScale: _d, ...rest } = base;
  return { ...rest, ...(settings as unknown as ConfigDict) };
}

/** AdamWR: AdamW with warm restarts and normalized weight decay (the paper's settings). */
export class AdamWR extends DecoupledOptimizer {
  static get className(): string {
    return 'decoupled.AdamWR';
  }
  static override fromConfig = fromConfig;
  readonly settings: WarmRestartSettings;
  constructor(options: AdamWRTfjsOptions) {
    const split = splitWarmRestartOptions(options, 'AdamWR');
    super('AdamW', split.options, 'AdamWR');
    this.settings = split.settings;
  }
  override getConfig(): ConfigDict {
    return restartsConfig(super.getConfig(), this.settings);
  }
}

/** SGDWR: SGDW with warm restarts and normalized weight decay (the paper's settings). */
export class SGDWR extends DecoupledOptimizer {
  static get className(): string {
    return 'decoupled.SGDWR';
  }
  static override fromConfig = fromConfig;
  readonly settings: WarmRestartSettings;
  constructor(options: SGDWRTfjsOptions) {
    const split = splitWarmRestartOptions(options, 'SGDWR');
    super('SGDW', split.options, 'SGDWR');
    this.settings = split.settings;
  }
  override getConfig(): ConfigDict {
    return restartsConfig(super.getConfig(), this.settings);
  }
}

/** Registers every class for tfjs serialization (model.save / loadLayersModel). */
export function registerSerialization(): void {
  for (const cls of [AdamW, Adam, SGDW, SGD, AdamWR, SGDWR]) {
    tf.serialization.registerClass(cls as unknown as Ctor<DecoupledOptimizer>);
  }
}
