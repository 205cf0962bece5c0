/**
 * The update path of the backends whose arrays the host reads (cpu, wasm): the non-finite scan
 * and the clipping norm run on the host's view of the arrays (src/core/clip.ts's rule, the core's
 * scan), and each variable is updated by the fused kernel registered for the backend
 * (./backend-kernels.ts), bit for bit the core's step. Where the kernel is unregistered, the
 * core's loops run on dataSync() copies.
 */
import * as tf from '@tensorflow/tfjs-core';
import { clipCoefficient, globalNorm } from '../core/clip.js';
import { NonFiniteGradientError } from '../core/errors.js';
import { getDefaultKernels } from '../core/optimizer.js';
import {
  firstNonFinite,
  hasKernel,
  readView,
  sharedData,
  updatesInPlace,
} from './backend-kernels.js';
import type { BoundEntry, SlotStore } from './slots.js';
import {
  type ClippedStep,
  type GroupScalars,
  type PathSettings,
  type StepPath,
  type StepStats,
  type VariableUpdate,
  variableUpdate,
} from './step.js';

export class HostPath implements StepPath {
  constructor(
    private readonly settings: PathSettings,
    private readonly store: SlotStore,
    private readonly stats: StepStats,
  ) {}

  /** 'error' throws at the first non-finite element; 'skip' counts the step and skips it. */
  admit(grads: readonly tf.Tensor[]): boolean {
    if (this.settings.nonFinite === 'ignore') return true;
    for (let i = 0; i < grads.length; i++) {
      const bad = firstNonFinite(grads[i]);
      if (!bad) continue;
      if (this.settings.nonFinite === 'error') throw new NonFiniteGradientError(i, bad[0], bad[1]);
      this.stats.hostSkipped++;
      return false;
    }
    return true;
  }

  /** Gradients scaled to the global norm clipNorm, as new tensors (the caller's are unchanged). */
  clip(grads: readonly tf.Tensor[]): ClippedStep {
    const clipNorm = this.settings.clipNorm;
    if (clipNorm === null) return { grads, control: null };
    const norm = globalNorm(grads.map(readView));
    this.stats.hostNorm = norm;
    const c = clipCoefficient(norm, clipNorm);
    if (c === null) return { grads, control: null };
    if (tf.getBackend() === 'cpu') {
      // cpu's generic broadcasting Mul is slow; this loop rounds each product to float32 the same.
      const scaled = grads.map((g) => {
        const a = readView(g);
        const out = new Float32Array(a.length);
        for (let i = 0; i < a.length; i++) out[i] = a[i] * c;
        return tf.tensor(out, g.shape, 'float32');
      });
      return { grads: scaled, control: null };
    }
    const scale = tf.scalar(c);
    return { grads: grads.map((g) => tf.mul(g, scale)), control: null };
  }

  update(entry: BoundEntry, grad: tf.Tensor, group: GroupScalars): void {
    const param = entry.variable;
    const inPlace = updatesInPlace(tf.getBackend());
    // In-place kernels need the variable's own memory (assign() shares data with its source).
    if (inPlace) ownHostData(param);
    // Kernels update slots in place: a slot sharing its data (setWeights) gets its own copy.
    const update = variableUpdate(entry, group, (name) =>
      ownHostData(this.store.slot(entry, name)),
    );
    if (!hasKernel(update.kernel)) {
      updateAnywhere(param, grad, update);
      return;
    }
    const inputs: tf.NamedTensorMap = { param, grad, ...update.slots };
    const attrs = { ...update.scalars } as unknown as tf.NamedAttrMap;
    const out = tf.engine().runKernel(update.kernel, inputs, attrs) as tf.Tensor | undefined;
    if (!inPlace && out) param.assign(out);
  }
}

/** `t`, first given a copy of its data if another tensor shares it. */
export function ownHostData(t: tf.Variable): tf.Variable {
  if (sharedData(t)) t.assign(tf.tensor(Float32Array.from(readView(t)), t.shape, 'float32'));
  return t;
}

/** Any backend: the core's loops on copies read with dataSync, written back as new tensors. */
function updateAnywhere(param: tf.Variable, grad: tf.Tensor, update: VariableUpdate): void {
  const copy = (t: tf.Tensor) => Float32Array.from(t.dataSync());
  const p = copy(param);
  const g = grad.dataSync() as Float32Array;
  const kernels = getDefaultKernels();
  const slots: [tf.Variable, Float32Array][] = Object.values(update.slots)
    .filter((s): s is tf.Variable => s !== undefined)
    .map((s) => [s, copy(s)]);
  if (update.family === 'adam') {
    const [m, v, vMax] = slots.map(([, a]) => a);
    kernels.adam(p, g, m, v, vMax ?? null, update.scalars);
  } else {
    kernels.sgd(p, g, slots[0]?.[1] ?? null, update.scalars);
  }
  param.assign(tf.tensor(p, param.shape, 'float32'));
  for (const [slot, values] of slots) slot.assign(tf.tensor(values, slot.shape, 'float32'));
}
