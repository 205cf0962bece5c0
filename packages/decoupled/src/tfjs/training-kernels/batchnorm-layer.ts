/**
 * The fused BatchNorm training op (batchnorm.ts) wired into tfjs: an op with its registered
 * gradient, and tf.layers.batchNormalization's `call` routed through it in training mode on the
 * wasm backend. Everything else (inference mode, other backends, a non-last axis, center or scale
 * off) keeps tfjs-layers' own code. The moving averages are updated exactly as tfjs-layers does:
 *   moving <- moving - (moving - batch statistic) * (1 - momentum)
 * with the biased batch variance.
 */

import type { NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD } from './batchnorm.js';

/** y, batch mean [C] and biased batch variance [C] of x [..., C] (channels last). */
export function batchNormTraining(
  x: Tensor,
  scale: Tensor,
  offset: Tensor,
  epsilon: number,
): [Tensor, Tensor, Tensor] {
  const attrs: NamedAttrMap = { epsilon };
  return tf.engine().runKernel(BATCH_NORM_TRAINING, { x, scale, offset }, attrs) as unknown as [
    Tensor,
    Tensor,
    Tensor,
  ];
}

let gradientRegistered = false;

function registerBatchNormGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAINING,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dmean, dvariance] = dys as Tensor[];
      const [x, scale, mean, variance] = saved;
      // One kernel makes all three gradients; it runs here (inside the engine's backward tidy),
      // not in the thunks, each of which the engine calls in a tidy of its own.
      const [dx, dscale, doffset] = tf
        .engine()
        .runKernel(
          BATCH_NORM_TRAINING_GRAD,
          { dy, x, scale, mean, variance, dmean, dvariance },
          attrs as NamedAttrMap,
        ) as unknown as Tensor[];
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  });
}

/** The fields of tfjs-layers' BatchNormalization that the fused call reads. */
interface LayerVariable {
  read(): Tensor;
  write(value: Tensor): void;
}
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma?: LayerVariable;
  beta?: LayerVariable;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}
type Call = (
  this: BatchNormLayer,
  inputs: Tensor | Tensor[],
  kwargs: { training?: boolean },
) => Tensor;

/** Whether layers use the fused op (tests and benchmarks compare both). */
let fused = true;
let originalCall: Call | undefined;

/** Turns the fused BatchNorm on (default) or off for tf.layers.batchNormalization. */
export function setFusedBatchNorm(enabled: boolean): void {
  fused = enabled;
}

function fusedApplies(layer: BatchNormLayer, x: Tensor, training: boolean | undefined): boolean {
  const axis = layer.axis < 0 ? layer.axis + x.rank : layer.axis;
  return (
    fused &&
    training === true &&
    tf.getBackend() === 'wasm' &&
    x.dtype === 'float32' &&
    x.rank >= 2 &&
    axis === x.rank - 1 &&
    layer.gamma != null &&
    layer.beta != null
  );
}

function movingAverage(variable: LayerVariable, value: Tensor, momentum: number): void {
  tf.tidy(() => {
    const orig = variable.read();
    variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), 1 - momentum)));
  });
}

const fusedCall: Call = function (inputs, kwargs) {
  const x = Array.isArray(inputs) && inputs.length === 1 ? inputs[0] : inputs;
  if (Array.isArray(x) || !fusedApplies(this, x, kwargs.training)) {
    return (originalCall as Call).call(this, inputs, kwargs);
  }
  return tf.tidy(() => {
    const gamma = (this.gamma as LayerVariable).read();
    const beta = (this.beta as LayerVariable).read();
    const [y, mean, variance] = batchNormTraining(x, gamma, beta, this.epsilon);
    movingAverage(this.movingMean, mean, this.momentum);
    movingAverage(this.movingVariance, variance, this.momentum);
    return y;
  });
};

/** Registers the gradient and routes BatchNormalization layers through the fused op. Idempotent. */
export function installFusedBatchNorm(): void {
  registerBatchNormGradient();
  if (originalCall !== undefined) return;
  const prototype = Object.getPrototypeOf(tfl.layers.batchNormalization({})) as { call: Call };
  originalCall = prototype.call;
  prototype.call = fusedCall;
}
