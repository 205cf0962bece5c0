/**
 * One optimizer step on a backend whose memory the host does not read (webgl, webgpu, tfjs-node's
 * `tensorflow`, custom backends), with no readback:
 *
 *   1. the step control (./control.ts): clipNorm's global norm and the all-finite flag, on the
 *      device, in one pass over the gradients (the backend's CONTROL_KERNEL, or tf ops where
 *      none is registered), as the multiplier the update applies to the gradients (0: skip the
 *      step) inside a state vector that also carries the norm and the count of skipped steps;
 *   2. per variable, the fused kernel registered for the backend (./index.ts), or the same update
 *      from tf ops where none is registered;
 *   3. the new parameter and slots are assigned to the variables. The parameter is never changed
 *      in place, so a tensor a caller holds keeps its values; webgpu's kernel updates the slots
 *      in place, after giving a slot that shares its data (setWeights) a copy of its own.
 *
 * nonFinite 'error' is the one policy that reads: the state (4 floats) once per step, for its
 * all-finite flag, before anything is written (a GPU pipeline stall; 'skip' does not read).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamStepScalars, SgdScalars } from '../../core/kernels.js';
import { adamParts, sgdParts } from './args.js';
import { CONTROL_KERNEL, type ControlAttrs, STATE } from './control.js';
import { SLOTS_IN_PLACE } from './index.js';
import { adamUpdateOps, type StepControl, sgdUpdateOps, stepControl } from './ops-update.js';

/** One variable's update: its tensors by kernel input name, and its group's scalars. */
export type DeviceUpdate =
  | {
      family: 'adam';
      inputs: {
        param: tf.Tensor;
        grad: tf.Tensor;
        m: tf.Variable;
        v: tf.Variable;
        vMax?: tf.Variable;
      };
      scalars: AdamStepScalars;
    }
  | {
      family: 'sgd';
      inputs: { param: tf.Tensor; grad: tf.Tensor; buf?: tf.Variable };
      scalars: SgdScalars;
    };

/** The backends that run the device step: all but those updating on the host (cpu, wasm). */
export function runsOnDevice(backendName: string): boolean {
  return backendName !== 'cpu' && backendName !== 'wasm';
}

/**
 * Step 1: the step control for `grads`, after the state `prev` of the last step (null: none
 * applies, neither clipNorm nor a check); call inside tf.tidy.
 */
export function deviceControl(
  grads: readonly tf.Tensor[],
  clipNorm: number | null,
  nonFinite: 'error' | 'skip' | 'ignore',
  prev: tf.Tensor | null = null,
): StepControl {
  const checkFinite = nonFinite !== 'ignore';
  if (clipNorm === null && !checkFinite) return { control: null, state: null };
  if (!tf.getKernel(CONTROL_KERNEL, tf.getBackend())) {
    return stepControl(grads, { clipNorm, checkFinite }, prev);
  }
  const inputs: tf.NamedTensorMap = {};
  // At their own shapes: a reshape may be a pass (a packed webgl texture); the kernels read any.
  for (const [i, g] of grads.entries()) inputs[`x${i}`] = g;
  if (prev) inputs.prev = prev;
  const attrs: ControlAttrs = { clipNorm: clipNorm ?? 0, checkFinite };
  const state = tf
    .engine()
    .runKernel(CONTROL_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  return { control: state, state };
}

/**
 * Steps 2 and 3 for one variable: runs the backend's fused kernel `kernelName`, or the update from
 * tf ops, and assigns the new parameter to `param` and the new slots to theirs. Call inside
 * tf.tidy.
 */
export function deviceUpdate(
  kernelName: string,
  param: tf.Variable,
  update: DeviceUpdate,
  control: tf.Tensor | null,
): void {
  const { grad: _grad, param: _param, ...slotMap } = update.inputs;
  const slots = Object.values(slotMap).filter((s): s is tf.Variable => s !== undefined);
  const backendName = tf.getBackend();
  let outputs: tf.Tensor[];
  if (tf.getKernel(kernelName, backendName)) {
    if (SLOTS_IN_PLACE.includes(backendName)) for (const s of slots) ownData(s);
    const inputs: tf.NamedTensorMap = {};
    for (const [name, t] of Object.entries(update.inputs)) if (t) inputs[name] = t;
    if (control) inputs.control = control;
    const attrs = { ...update.scalars } as unknown as tf.NamedAttrMap;
    outputs = tf.engine().runKernel(kernelName, inputs, attrs) as tf.Tensor[];
  } else {
    outputs = updateFromOps(update, control);
  }
  param.assign(outputs[0]);
  // Fewer outputs than slots: the kernel updated them in place.
  if (outputs.length > 1) {
    for (const [k, s] of slots.entries()) s.assign(outputs[k + 1]);
  }
}

/** The update from tf ops, with the scalars through the calling convention (./args.ts). */
function updateFromOps(update: DeviceUpdate, control: tf.Tensor | null): tf.Tensor[] {
  if (update.family === 'adam') {
    const t = update.inputs;
    return adamUpdateOps({ ...t, control }, adamParts(update.scalars, t.vMax !== undefined));
  }
  const t = update.inputs;
  return sgdUpdateOps({ ...t, control }, sgdParts(update.scalars, t.buf !== undefined));
}

/** Gives `v` a buffer of its own on the device (a copy, not a readback) if it shares its data. */
function ownData(v: tf.Variable): void {
  if (tf.backend().refCount(v.dataId) > 1) v.assign(tf.mul(v, 1));
}

/**
 * What the host knows of the device steps without reading: the last step's state (./control.ts:
 * its global norm and the count of skipped steps so far) stays on the device until asked for, and
 * is the next step's `prev`. The first ask after a step reads the state (4 floats), once.
 */
export class DeviceStepStats {
  private state: tf.Tensor | null = null;
  /** The state, once read (or given by the caller that read it). */
  private values: Float32Array | null = null;
  /** A norm was recorded since the last takeNorm. */
  private freshNorm = false;
  /** A step of 'skip' was recorded: the state counts skips. */
  private countsSkips = false;
  /** Skipped steps already taken from the state's running count. */
  private skippedTaken = 0;

  /** The last recorded state, for the next step's control. */
  get last(): tf.Tensor | null {
    return this.state;
  }

  /**
   * Keeps this step's state (`values`: its contents, if already read); `norm`: it holds a norm
   * (clipNorm); `skips`: the step was checked under 'skip'.
   */
  record(step: StepControl, has: { norm: boolean; skips: boolean }, values?: Float32Array): void {
    if (!step.state) return;
    this.state?.dispose();
    this.state = tf.keep(step.state);
    this.values = values ?? null;
    this.freshNorm ||= has.norm;
    this.countsSkips ||= has.skips;
  }

  private read(state: tf.Tensor): Float32Array {
    this.values ??= state.dataSync() as Float32Array;
    return this.values;
  }

  /** The last recorded norm, read once (null if none since the last take). */
  takeNorm(): number | null {
    if (!this.state || !this.freshNorm) return null;
    this.freshNorm = false;
    return this.read(this.state)[STATE.norm];
  }

  /** Steps skipped since the last take (0 without reading if no step counted skips). */
  takeSkipped(): number {
    if (!this.state || !this.countsSkips) return 0;
    const total = this.read(this.state)[STATE.skipped];
    const skipped = total - this.skippedTaken;
    this.skippedTaken = total;
    return skipped;
  }

  dispose(): void {
    this.state?.dispose();
    this.state = null;
    this.values = null;
    this.skippedTaken = 0;
  }
}
