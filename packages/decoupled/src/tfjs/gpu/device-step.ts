/**
 * One optimizer step on a backend whose memory the host does not read (webgl, webgpu, tfjs-node's
 * `tensorflow`, custom backends), with no readback:
 *
 *   1. the step control (./ops-update.ts): clipNorm's global norm and the all-finite flag, on the
 *      device, as one scalar the update multiplies the gradients by (0: skip the step);
 *   2. per variable, the fused kernel registered for the backend (./index.ts), or the same update
 *      from tf ops where none is registered;
 *   3. the new parameter and slots are assigned to the variables. The parameter is never changed
 *      in place, so a tensor a caller holds keeps its values; webgpu's kernel updates the slots
 *      in place, after giving a slot that shares its data (setWeights) a copy of its own.
 *
 * nonFinite 'error' is the one policy that reads: one scalar per step, the all-finite flag, before
 * anything is written (a GPU pipeline stall; 'skip' does not read).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamStepScalars, SgdScalars } from '../../core/kernels.js';
import { adamParts, sgdParts } from './args.js';
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

/** Step 1: the control scalar for `grads`; call inside tf.tidy. */
export function deviceControl(
  grads: readonly tf.Tensor[],
  clipNorm: number | null,
  nonFinite: 'error' | 'skip' | 'ignore',
): StepControl {
  return stepControl(grads, { clipNorm, checkFinite: nonFinite !== 'ignore' });
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
  control: tf.Scalar | null,
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
function updateFromOps(update: DeviceUpdate, control: tf.Scalar | null): tf.Tensor[] {
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
 * What the host knows of the device steps without reading: the last global norm and the count of
 * skipped steps stay on the device until asked for (each ask reads one scalar, once).
 */
export class DeviceStepStats {
  private norm: tf.Scalar | null = null;
  private skipped: tf.Scalar | null = null;

  /** Keeps this step's norm (clipNorm) and adds 1 to the skip count if it was skipped. */
  record(step: StepControl, countSkips: boolean): void {
    if (step.norm) {
      this.norm?.dispose();
      this.norm = tf.keep(step.norm.clone());
    }
    if (countSkips && step.finite) {
      const skipped = tf.sub(1, step.finite) as tf.Scalar;
      const total = this.skipped ? tf.add(this.skipped, skipped) : skipped;
      this.skipped?.dispose();
      this.skipped = tf.keep(total as tf.Scalar);
    }
  }

  /** The last recorded norm, read once (null if none since the last take). */
  takeNorm(): number | null {
    if (!this.norm) return null;
    const value = this.norm.dataSync()[0];
    this.norm.dispose();
    this.norm = null;
    return value;
  }

  /** Steps skipped since the last take, read once (0 without reading if none recorded). */
  takeSkipped(): number {
    if (!this.skipped) return 0;
    const value = this.skipped.dataSync()[0];
    this.skipped.dispose();
    this.skipped = null;
    return value;
  }

  dispose(): void {
    tf.dispose([this.norm, this.skipped].filter((t): t is tf.Scalar => t !== null));
    this.norm = null;
    this.skipped = null;
  }
}
