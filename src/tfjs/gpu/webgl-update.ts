/**
 * The fused updates on tfjs-backend-webgl: GPGPU programs (fragment shaders over float32 textures)
 * run by the backend's `compileAndRun`. The per-element math is the core's (src/core/kernels.ts):
 *
 *   theta <- theta * decayFactor;  g <- (maximize ? -g : g) * control + l2 * theta
 *   Adam: m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;  vmax <- max(vmax, v)
 *         theta <- theta - stepSize * m / (sqrt(v or vmax) / sqrt(1 - beta2^t) + eps)
 *   SGD:  b <- first ? g : momentum b + (1 - dampening) g;  d <- nesterov ? g + momentum b : b
 *         theta <- theta - lr d
 *
 * A WebGL program renders one output texture, so an update takes one pass per tensor it writes,
 * and the last pass (theta) reads the slots the earlier passes wrote:
 *
 *   Adam   3 passes: m, v, theta            (amsgrad: 4, with vmax before theta)
 *   SGD    2 passes: buf, theta             (no momentum: 1, theta)
 *
 * Packing every output into one texture (rows of a [k, n] render target) would make it one draw
 * call but render k times the texels, each redoing the whole update: the same work, plus a slice.
 * tf.train.adam runs about ten programs per variable for the same step.
 *
 * The flags (maximize, l2, decay, amsgrad, momentum, nesterov, first step, control) select the
 * shader source, so each variant compiles once; the step's scalars are uniforms. The optional
 * `control` input is the step control of ./ops-update.ts: g is multiplied by it, and 0 keeps the
 * old values (a skipped step).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AdamScalars, SgdScalars } from '../../core/kernels.js';

/** The part of tfjs-backend-webgl's GPGPUProgram this module fills in. */
interface GpgpuProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  customUniforms: { name: string; type: 'float' }[];
}

/** The part of tfjs-backend-webgl's MathBackendWebGL this module calls. */
export interface WebGLBackend {
  compileAndRun(
    program: GpgpuProgram,
    inputs: tf.TensorInfo[],
    outputDtype?: 'float32',
    customUniformValues?: number[][],
  ): tf.TensorInfo;
}

/** One pass: its GLSL body (computing `float result`), its inputs and its uniform scalars. */
interface Pass {
  inputs: [string, tf.TensorInfo][];
  uniforms: [string, number][];
  body: string;
}

/** Runs one pass over the shape of `param`, the program's source built from the pass. */
function run(backend: WebGLBackend, shape: number[], pass: Pass, keep: string): tf.TensorInfo {
  const names = pass.inputs.map(([name]) => name);
  const skip = names.includes('control')
    ? `if (getControl() == 0.0) { setOutput(get${keep}AtOutCoords()); return; }`
    : '';
  const program: GpgpuProgram = {
    variableNames: names,
    outputShape: shape,
    customUniforms: pass.uniforms.map(([name]) => ({ name, type: 'float' })),
    userCode: `void main() {\n  ${skip}\n  float result;\n  ${pass.body}\n  setOutput(result);\n}`,
  };
  return backend.compileAndRun(
    program,
    pass.inputs.map(([, info]) => info),
    'float32',
    pass.uniforms.map(([, value]) => [value]),
  );
}

/** GLSL computing `float theta` (decayed) and `float g` (effective gradient). */
function gradientCode(s: { decayFactor: number; l2: number; maximize: boolean }, control: boolean) {
  const lines = [
    s.decayFactor === 1
      ? 'float theta = getParamAtOutCoords();'
      : 'float theta = getParamAtOutCoords() * decayFactor;',
    `float g = ${s.maximize ? '-' : ''}getGradAtOutCoords();`,
  ];
  if (control) lines.push('g = g * getControl();');
  if (s.l2 !== 0) lines.push('g = g + l2 * theta;');
  return lines.join('\n  ');
}

function gradientUniforms(s: { decayFactor: number; l2: number }): [string, number][] {
  const u: [string, number][] = [];
  if (s.decayFactor !== 1) u.push(['decayFactor', s.decayFactor]);
  if (s.l2 !== 0) u.push(['l2', s.l2]);
  return u;
}

/** Inputs named as the programs read them; `control` last when present. */
interface Named {
  param: tf.TensorInfo;
  grad: tf.TensorInfo;
  control?: tf.TensorInfo;
}

function withControl(inputs: [string, tf.TensorInfo][], t: Named): [string, tf.TensorInfo][] {
  return t.control ? [...inputs, ['control', t.control]] : inputs;
}

/** Adam family: returns [param, m, v, vMax?] as new textures. */
export function adamUpdateWebGL(
  backend: WebGLBackend,
  t: Named & { m: tf.TensorInfo; v: tf.TensorInfo; vMax?: tf.TensorInfo },
  s: AdamScalars,
): tf.TensorInfo[] {
  const shape = t.param.shape;
  const control = t.control !== undefined;
  const grad = gradientCode(s, control);
  const base = withControl(
    [
      ['param', t.param],
      ['grad', t.grad],
    ],
    t,
  );
  const m = run(
    backend,
    shape,
    {
      inputs: [...base, ['m', t.m]],
      uniforms: [...gradientUniforms(s), ['beta1', s.beta1], ['oneMinusBeta1', 1 - s.beta1]],
      body: `${grad}\n  result = getMAtOutCoords() * beta1 + oneMinusBeta1 * g;`,
    },
    'M',
  );
  const v = run(
    backend,
    shape,
    {
      inputs: [...base, ['v', t.v]],
      uniforms: [...gradientUniforms(s), ['beta2', s.beta2], ['oneMinusBeta2', 1 - s.beta2]],
      body: `${grad}\n  result = getVAtOutCoords() * beta2 + (oneMinusBeta2 * g) * g;`,
    },
    'V',
  );
  const outputs = [m, v];
  let second = v;
  if (s.amsgrad && t.vMax) {
    second = run(
      backend,
      shape,
      {
        inputs: withControl(
          [
            ['vMax', t.vMax],
            ['vNew', v],
          ],
          t,
        ),
        uniforms: [],
        body: 'result = max(getVMaxAtOutCoords(), getVNewAtOutCoords());',
      },
      'VMax',
    );
    outputs.push(second);
  }
  const theta = run(
    backend,
    shape,
    {
      inputs: withControl(
        [
          ['param', t.param],
          ['mNew', m],
          ['second', second],
        ],
        t,
      ),
      uniforms: [
        ...(s.decayFactor === 1 ? [] : ([['decayFactor', s.decayFactor]] as [string, number][])),
        ['biasCorrection2Sqrt', s.biasCorrection2Sqrt],
        ['eps', s.eps],
        ['negStepSize', -s.stepSize],
      ],
      body: [
        s.decayFactor === 1
          ? 'float theta = getParamAtOutCoords();'
          : 'float theta = getParamAtOutCoords() * decayFactor;',
        'float denom = sqrt(getSecondAtOutCoords()) / biasCorrection2Sqrt + eps;',
        'result = theta + (negStepSize * getMNewAtOutCoords()) / denom;',
      ].join('\n  '),
    },
    'Param',
  );
  return [theta, ...outputs];
}

/** SGD family: returns [param, buf?] as new textures. */
export function sgdUpdateWebGL(
  backend: WebGLBackend,
  t: Named & { buf?: tf.TensorInfo },
  s: SgdScalars,
): tf.TensorInfo[] {
  const shape = t.param.shape;
  const grad = gradientCode(s, t.control !== undefined);
  const base = withControl(
    [
      ['param', t.param],
      ['grad', t.grad],
    ],
    t,
  );
  const lrUniforms: [string, number][] = [...gradientUniforms(s), ['negLr', -s.lr]];
  if (s.momentum === 0 || !t.buf) {
    const theta = run(
      backend,
      shape,
      { inputs: base, uniforms: lrUniforms, body: `${grad}\n  result = theta + negLr * g;` },
      'Param',
    );
    return [theta];
  }
  const buf = run(
    backend,
    shape,
    {
      // A first step reads no buffer, except to keep it when the step is skipped.
      inputs: s.firstStep && !t.control ? base : [...base, ['buf', t.buf]],
      uniforms: [
        ...gradientUniforms(s),
        ['momentum', s.momentum],
        ['oneMinusDampening', 1 - s.dampening],
      ],
      body: s.firstStep
        ? `${grad}\n  result = g;`
        : `${grad}\n  result = getBufAtOutCoords() * momentum + oneMinusDampening * g;`,
    },
    'Buf',
  );
  const direction = s.nesterov ? 'g + momentum * getBufNewAtOutCoords()' : 'getBufNewAtOutCoords()';
  const theta = run(
    backend,
    shape,
    {
      inputs: [...base, ['bufNew', buf]],
      uniforms: s.nesterov ? [...lrUniforms, ['momentum', s.momentum]] : lrUniforms,
      body: `${grad}\n  result = theta + negLr * (${direction});`,
    },
    'Param',
  );
  return [theta, buf];
}
