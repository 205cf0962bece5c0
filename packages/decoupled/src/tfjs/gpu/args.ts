/**
 * The kernel calling convention (src/kernels/abi.ts) as the GPU kernels read it: the float32
 * arguments by name, for uniforms, and the flags as booleans, for choosing the shader variant.
 * The arguments are the ones the WASM kernels take, rounded the same way, so every backend starts
 * each step from the same float32 scalars.
 */
import type { AdamStepScalars, SgdScalars } from '../../core/kernels.js';
import { adamArgs, FLAG, sgdArgs } from '../../kernels/abi.js';

/** Adam's arguments: `uniforms` in the kernel's order, and its flags. */
export interface AdamParts {
  uniforms: {
    decay: number;
    l2: number;
    beta1: number;
    oneMinusBeta1: number;
    beta2: number;
    oneMinusBeta2: number;
    bc2Sqrt: number;
    eps: number;
    negStepSize: number;
  };
  maximize: boolean;
  amsgrad: boolean;
  useL2: boolean;
  useDecay: boolean;
}

/** SGD's arguments and flags. */
export interface SgdParts {
  uniforms: {
    decay: number;
    l2: number;
    momentum: number;
    oneMinusDampening: number;
    negLr: number;
  };
  maximize: boolean;
  useL2: boolean;
  useDecay: boolean;
  momentum: boolean;
  nesterov: boolean;
  firstStep: boolean;
}

/** Adam's parts for `s`; `withVMax`: a vMax slot is passed. */
export function adamParts(s: AdamStepScalars, withVMax: boolean): AdamParts {
  const [decay, l2, beta1, oneMinusBeta1, beta2, oneMinusBeta2, bc2Sqrt, eps, negStepSize, flags] =
    adamArgs(s, withVMax);
  return {
    uniforms: { decay, l2, beta1, oneMinusBeta1, beta2, oneMinusBeta2, bc2Sqrt, eps, negStepSize },
    maximize: (flags & FLAG.maximize) !== 0,
    amsgrad: (flags & FLAG.amsgrad) !== 0,
    useL2: (flags & FLAG.l2) !== 0,
    useDecay: decay !== 1,
  };
}

/** SGD's parts for `s`; `withBuffer`: a momentum buffer is passed. */
export function sgdParts(s: SgdScalars, withBuffer: boolean): SgdParts {
  const [decay, l2, momentum, oneMinusDampening, negLr, flags] = sgdArgs(
    s,
    withBuffer,
    s.firstStep,
  );
  return {
    uniforms: { decay, l2, momentum, oneMinusDampening, negLr },
    maximize: (flags & FLAG.maximize) !== 0,
    useL2: (flags & FLAG.l2) !== 0,
    useDecay: decay !== 1,
    momentum: (flags & FLAG.momentum) !== 0,
    nesterov: (flags & FLAG.nesterov) !== 0,
    firstStep: (flags & FLAG.firstStep) !== 0,
  };
}
