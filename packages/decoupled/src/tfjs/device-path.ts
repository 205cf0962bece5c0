/**
 * The update path of the backends whose memory the host does not read (webgl, webgpu,
 * tfjs-node's `tensorflow`, custom backends): the step control, clipping and the updates run on
 * the device (./gpu/device-step.ts) and nothing is read back. Clipping multiplies by a device
 * scalar, and nonFinite 'skip' selects the old values when a gradient is not finite; such a
 * skipped step still advances t (the host cannot know without a read). nonFinite 'error' reads
 * the step's state (4 floats) once per step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteGradientError } from '../core/errors.js';
import { firstNonFinite } from './backend-kernels.js';
import { STATE } from './gpu/control.js';
import { type DeviceUpdate, deviceControl, deviceUpdate } from './gpu/device-step.js';
import type { BoundEntry, SlotStore } from './slots.js';
import {
  type ClippedStep,
  type GroupScalars,
  type PathSettings,
  type StepPath,
  type StepStats,
  variableUpdate,
} from './step.js';

export class DevicePath implements StepPath {
  constructor(
    private readonly settings: PathSettings,
    private readonly store: SlotStore,
    private readonly stats: StepStats,
  ) {}

  /**
   * Admits every step: the non-finite check runs on the device, in clip's step control. Under
   * `accumulate`, nonFinite 'error' checks each call here (one read), before it is added.
   */
  admit(grads: readonly tf.Tensor[]): boolean {
    const { accumulate, nonFinite } = this.settings;
    if (accumulate && nonFinite === 'error') {
      tf.tidy(() => {
        throwIfNotFinite(grads, deviceControl(grads, null, nonFinite).state);
      });
    }
    return true;
  }

  /** The step control: the clip scale, or 0 where a gradient is not finite (skips the step). */
  clip(grads: readonly tf.Tensor[]): ClippedStep {
    const { clipNorm, nonFinite } = this.settings;
    const stats = this.stats.device;
    const step = deviceControl(grads, clipNorm, nonFinite, stats.last);
    const values = nonFinite === 'error' ? throwIfNotFinite(grads, step.state) : undefined;
    stats.record(step, { norm: clipNorm !== null, skips: nonFinite === 'skip' }, values);
    return { grads, control: step.control };
  }

  update(entry: BoundEntry, grad: tf.Tensor, group: GroupScalars, step: ClippedStep): void {
    const param = entry.variable;
    const u = variableUpdate(entry, group, (name) => this.store.slot(entry, name));
    const update: DeviceUpdate =
      u.family === 'adam'
        ? { family: 'adam', inputs: { param, grad, ...u.slots }, scalars: u.scalars }
        : { family: 'sgd', inputs: { param, grad, ...u.slots }, scalars: u.scalars };
    deviceUpdate(u.kernel, param, update, step.control);
  }
}

/**
 * nonFinite 'error' on the device: reads the step's state `state` (4 floats, the one read of this
 * policy) and throws at the first non-finite element; locating it reads the gradients (error
 * path). Returns the values read, for the step's stats.
 */
export function throwIfNotFinite(
  grads: readonly tf.Tensor[],
  state: tf.Tensor | null,
): Float32Array | undefined {
  if (!state) return undefined;
  const values = state.dataSync() as Float32Array;
  if (values[STATE.finite] !== 0) return values;
  const at = grads.findIndex((g) => firstNonFinite(g) !== null);
  const bad = at < 0 ? [-1, Number.NaN] : (firstNonFinite(grads[at]) as [number, number]);
  throw new NonFiniteGradientError(at, bad[0], bad[1]);
}
