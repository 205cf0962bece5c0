/**
 * What the two update paths of applyGradients share: the host path (./host-path.ts: cpu, wasm,
 * the host reads the arrays) and the device path (./device-path.ts: webgl, webgpu and any other
 * backend, nothing read back) take the same steps, in the same order:
 *
 *   admit(grads)    the nonFinite policy where it can run before anything is planned or written
 *   clip(grads)     clipNorm: g_i <- g_i * clipNorm / (n + 1e-6) if n = sqrt(sum ||g_i||^2) > clipNorm
 *   update(...)     per variable, decay and update in the backend's fused kernel, with the scalars
 *                   of its decay group planned by the core (planGroups)
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AdamStepScalars, SgdScalars, SgdStepScalars } from '../core/kernels.js';
import type { FamilyOptimizer } from '../core/registry.js';
import { firstMomentumStep } from '../core/sgd.js';
import type { NonFinitePolicy } from '../core/types.js';
import { ADAM_KERNEL, SGD_KERNEL } from './backend-kernels.js';
import { DeviceStepStats } from './gpu/device-step.js';
import type { BoundEntry, Entry, SlotName } from './slots.js';

/** One decay group's planned scalars, tagged with the kernel family that takes them. */
export type GroupScalars =
  | { readonly family: 'adam'; readonly scalars: AdamStepScalars }
  | { readonly family: 'sgd'; readonly scalars: SgdStepScalars };

/** One variable's kernel call: the kernel, its slot inputs and its scalars. */
export type VariableUpdate =
  | {
      readonly family: 'adam';
      readonly kernel: string;
      readonly slots: { m: tf.Variable; v: tf.Variable; vMax?: tf.Variable };
      readonly scalars: AdamStepScalars;
    }
  | {
      readonly family: 'sgd';
      readonly kernel: string;
      readonly slots: { buf?: tf.Variable };
      readonly scalars: SgdScalars;
    };

/** The gradients after clipping, and the device's step control (null on the host). */
export interface ClippedStep {
  readonly grads: readonly tf.Tensor[];
  readonly control: tf.Tensor | null;
}

/** The options a path reads. */
export interface PathSettings {
  readonly clipNorm: number | null;
  readonly nonFinite: NonFinitePolicy;
  /** Gradients are accumulated (`accumulate` > 1): each call is checked before it is added. */
  readonly accumulate?: boolean;
}

/** The steps of applyGradients that depend on where the arrays live. */
export interface StepPath {
  /** The nonFinite policy, before anything is planned or written: false skips the step. */
  admit(grads: readonly tf.Tensor[]): boolean;
  /** Clipping (on a device, also the non-finite control). Call inside tf.tidy. */
  clip(grads: readonly tf.Tensor[]): ClippedStep;
  /** Decay and update of one variable with its group's scalars. Call inside tf.tidy. */
  update(entry: BoundEntry, grad: tf.Tensor, group: GroupScalars, step: ClippedStep): void;
}

/** The core's scalars of the next step for the decayed (0) and the excluded (1) group. */
export function planGroups(core: FamilyOptimizer): GroupScalars[] {
  if (core.family === 'adam') {
    return core.optimizer.planStep().groups.map((g) => ({ family: 'adam', scalars: g.scalars }));
  }
  return core.optimizer.planStep().groups.map((g) => ({ family: 'sgd', scalars: g.scalars }));
}

/**
 * The kernel call for `entry` with its group's scalars: Adam reads m, v and (amsgrad) vMax; SGD
 * reads its momentum buffer when momentum is on, and its first step is the core's rule.
 * `slot` gives a slot, made on first use.
 */
export function variableUpdate(
  entry: Entry,
  group: GroupScalars,
  slot: (name: SlotName) => tf.Variable,
): VariableUpdate {
  if (group.family === 'adam') {
    const s = group.scalars;
    const slots = { m: slot('exp_avg'), v: slot('exp_avg_sq') };
    const vMax = s.amsgrad ? slot('max_exp_avg_sq') : undefined;
    return {
      family: 'adam',
      kernel: ADAM_KERNEL,
      slots: vMax ? { ...slots, vMax } : slots,
      scalars: s,
    };
  }
  const momentum = group.scalars.momentum;
  const firstStep = firstMomentumStep(momentum, entry.slots.has('momentum_buffer'));
  const slots = momentum !== 0 ? { buf: slot('momentum_buffer') } : {};
  return { family: 'sgd', kernel: SGD_KERNEL, slots, scalars: { ...group.scalars, firstStep } };
}

/** The skip count and last gradient norm of both paths (the device's read only when asked). */
export class StepStats {
  hostSkipped = 0;
  hostNorm: number | null = null;
  readonly device = new DeviceStepStats();

  get skipped(): number {
    this.hostSkipped += this.device.takeSkipped();
    return this.hostSkipped;
  }

  get norm(): number | null {
    this.hostNorm = this.device.takeNorm() ?? this.hostNorm;
    return this.hostNorm;
  }
}
