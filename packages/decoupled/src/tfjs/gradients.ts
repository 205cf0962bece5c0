/**
 * The gradients handed to applyGradients, checked before anything is written: each names a
 * registered float32 tf.Variable once, and is a float32 tensor of the variable's shape. A variable
 * without a gradient (null or undefined) is left as is, as tfjs does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { OptionError } from '../core/errors.js';
import type { NamedTensor } from './slots.js';

/** A variable and its gradient. */
export interface VariableGradient {
  readonly variable: tf.Variable;
  readonly grad: tf.Tensor;
}

/** The checked (variable, gradient) pairs of `variableGradients`, in the given order. */
export function resolveGradients(
  variableGradients: tf.NamedTensorMap | NamedTensor[],
  where: string,
): VariableGradient[] {
  const pairs: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
    ? variableGradients.map((ng) => [ng?.name, ng?.tensor])
    : Object.entries(variableGradients ?? {});
  const registered = tf.engine().registeredVariables;
  const items: VariableGradient[] = [];
  const seen = new Set<tf.Variable>();
  for (const [name, grad] of pairs) {
    if (grad == null) continue;
    const variable = registered[name];
    if (!variable) {
      const allowed = 'the name of a registered tf.Variable';
      throw new OptionError('variableGradients name', name, allowed, where);
    }
    checkGradient(name, variable, grad, where);
    if (seen.has(variable)) {
      throw new OptionError('variableGradients', name, 'each variable once', where);
    }
    seen.add(variable);
    items.push({ variable, grad });
  }
  return items;
}

function checkGradient(name: string, variable: tf.Variable, grad: unknown, where: string): void {
  if (!(grad instanceof tf.Tensor) || grad.dtype !== 'float32') {
    throw new OptionError(`gradient of '${name}'`, grad, 'a float32 tf.Tensor', where);
  }
  if (!tf.util.arraysEqual(grad.shape, variable.shape)) {
    const allowed = `the variable's shape [${variable.shape}]`;
    throw new OptionError(`gradient of '${name}' shape`, grad.shape, allowed, where);
  }
  if (variable.dtype !== 'float32') {
    throw new OptionError(`variable '${name}' dtype`, variable.dtype, "'float32'", where);
  }
}
