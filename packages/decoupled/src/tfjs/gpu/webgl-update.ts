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
 * The programs are packed, as tfjs' own ops are under WEBGL_PACK (its default): each fragment
 * updates 4 elements, one RGBA texel (a 2 x 2 block of the last two dimensions), so a pass has a
 * quarter of the fragments and texture reads of an unpacked one. Under SwiftShader that made a
 * step 3x cheaper (bench:browser, BENCHMARKS.md). The parameter and slots stay packed between
 * steps; a gradient in an unpacked texture (from an unpacked op) is packed once per step, not
 * once per pass reading it. With WEBGL_PACK off they are unpacked programs, one element a fragment.
 *
 * The step's scalars come through the kernel calling convention (src/kernels/abi.ts, ./args.ts):
 * its flags (maximize, l2, amsgrad, momentum, nesterov, first step; and decay, control) select the
 * shader source, so each variant compiles once; its float32 arguments are the uniforms. The optional
 * `control` input is the step control (./control.ts's state, whose element 0 every pass reads): g
 * is multiplied by it, and 0 keeps the old values (a skipped step), so no select pass is needed.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { env } from '@tensorflow/tfjs-core';
import type { AdamParts, SgdParts } from './args.js';

/** The part of tfjs-backend-webgl's GPGPUProgram this module fills in. */
interface GpgpuProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  customUniforms: { name: string; type: 'float' }[];
  packedInputs?: boolean;
  packedOutput?: boolean;
}

/** The part of tfjs-backend-webgl's MathBackendWebGL this module calls. */
export interface WebGLBackend {
  compileAndRun(
    program: GpgpuProgram,
    inputs: tf.TensorInfo[],
    outputDtype?: 'float32',
    customUniformValues?: number[][],
    preventEagerUnpackingOfOutput?: boolean,
  ): tf.TensorInfo;
  disposeIntermediateTensorInfo(info: tf.TensorInfo): void;
  packTensor(info: tf.TensorInfo): tf.TensorInfo;
  texData: { get(dataId: tf.DataId): { isPacked?: boolean; texture?: unknown } };
}

/**
 * Whether the programs run packed (tfjs' WEBGL_PACK, on by default): four elements per fragment
 * (a 2 x 2 block of the last two dimensions, one RGBA texel), as tfjs' own packed ops.
 */
export function packedPrograms(): boolean {
  return env().getBool('WEBGL_PACK');
}

/**
 * Whether a program reading `x` should be packed to read it without a conversion pass: its
 * texture's layout, or `fallback` for a tensor not yet on the GPU (the first program to read it
 * uploads it in its own layout).
 */
export function isPackedTexture(backend: WebGLBackend, x: tf.TensorInfo, fallback: boolean) {
  const data = backend.texData.get(x.dataId);
  // isPacked is unset on a texture uploaded unpacked.
  return data.texture == null ? fallback : data.isPacked === true;
}

/**
 * `x` in the packed layout: itself, or a packed copy when its texture is unpacked (tfjs would
 * otherwise pack it again for each program reading it). `owned` collects the copies to dispose.
 */
function asPacked(backend: WebGLBackend, x: tf.TensorInfo, owned: tf.TensorInfo[]): tf.TensorInfo {
  if (isPackedTexture(backend, x, true)) return x;
  const copy = backend.packTensor(x);
  owned.push(copy);
  return copy;
}

/** One pass: its GLSL body (computing `float result`), its inputs and its uniform scalars. */
interface Pass {
  inputs: [string, tf.TensorInfo][];
  uniforms: [string, number][];
  body: string;
}

/** GLSL reading the step control: element 0 of the state vector (./control.ts), or a scalar. */
function controlCode(control: tf.TensorInfo, packed: boolean): string {
  const read = control.shape.length === 0 ? 'getControl()' : 'getControl(0)';
  return packed ? `${read}.x` : read;
}

/** The GLSL type of one fragment's values: the packed programs' 4 elements, or 1. */
function valueType(packed: boolean): string {
  return packed ? 'vec4' : 'float';
}

/**
 * Runs one pass over the shape of `param`, the program's source built from the pass. The body
 * reads the input `keep` (the tensor the pass writes anew) as `old`; with a control input, a
 * skipped step writes `old` back. A select, not a branch: the pass reads `old` anyway, and the
 * control is read once per fragment.
 */
function run(
  backend: WebGLBackend,
  shape: number[],
  pass: Pass,
  keep: string,
  packed: boolean,
): tf.TensorInfo {
  const names = pass.inputs.map(([name]) => name);
  const control = pass.inputs.find(([name]) => name === 'control');
  const T = valueType(packed);
  const lines: string[] = [];
  if (names.includes(keep)) {
    lines.push(`${T} old = get${keep[0].toUpperCase()}${keep.slice(1)}AtOutCoords();`);
  }
  if (control) lines.push(`float stepControl = ${controlCode(control[1], packed)};`);
  lines.push(`${T} result;`, pass.body);
  lines.push(control ? 'setOutput(stepControl == 0.0 ? old : result);' : 'setOutput(result);');
  const program: GpgpuProgram = {
    variableNames: names,
    outputShape: shape,
    customUniforms: pass.uniforms.map(([name]) => ({ name, type: 'float' })),
    packedInputs: packed,
    packedOutput: packed,
    userCode: `void main() {\n  ${lines.join('\n  ')}\n}`,
  };
  return backend.compileAndRun(
    program,
    pass.inputs.map(([, info]) => info),
    'float32',
    pass.uniforms.map(([, value]) => [value]),
    // The next pass and step read it packed (tfjs would unpack it without WEBGL_LAZILY_UNPACK).
    true,
  );
}

/** GLSL computing `theta` (decayed) and `g` (effective gradient), of type `T`. */
function gradientCode(
  p: { useDecay: boolean; useL2: boolean; maximize: boolean },
  control: boolean,
  T: string,
  param = 'getParamAtOutCoords()',
): string {
  const lines = [
    p.useDecay ? `${T} theta = ${param} * decay;` : `${T} theta = ${param};`,
    `${T} g = ${p.maximize ? '-' : ''}getGradAtOutCoords();`,
  ];
  if (control) lines.push('g = g * stepControl;');
  if (p.useL2) lines.push('g = g + l2 * theta;');
  return lines.join('\n  ');
}

function gradientUniforms(p: {
  useDecay: boolean;
  useL2: boolean;
  uniforms: { decay: number; l2: number };
}): [string, number][] {
  const u: [string, number][] = [];
  if (p.useDecay) u.push(['decay', p.uniforms.decay]);
  if (p.useL2) u.push(['l2', p.uniforms.l2]);
  return u;
}

/** Inputs named as the programs read them; `control` last when present. */
interface Named {
  param: tf.TensorInfo;
  grad: tf.TensorInfo;
  control?: tf.TensorInfo;
}

function paramAndGrad(t: Named): [string, tf.TensorInfo][] {
  return [
    ['param', t.param],
    ['grad', t.grad],
  ];
}

function withControl(inputs: [string, tf.TensorInfo][], t: Named): [string, tf.TensorInfo][] {
  return t.control ? [...inputs, ['control', t.control]] : inputs;
}

/**
 * `t` with the parameter and gradient, which several passes read, packed once if the programs
 * are packed and their textures are not (an unpacked gradient from an unpacked op, a parameter
 * before its first step). `owned`: the copies, to dispose after the passes.
 */
function prepare<N extends Named>(
  backend: WebGLBackend,
  t: N,
  packed: boolean,
  owned: tf.TensorInfo[],
): N {
  if (!packed) return t;
  return { ...t, param: asPacked(backend, t.param, owned), grad: asPacked(backend, t.grad, owned) };
}

function disposeAll(backend: WebGLBackend, infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeIntermediateTensorInfo(info);
}

/** Adam family: returns [param, m, v, vMax?] as new textures. */
export function adamUpdateWebGL(
  backend: WebGLBackend,
  given: Named & { m: tf.TensorInfo; v: tf.TensorInfo; vMax?: tf.TensorInfo },
  p: AdamParts,
): tf.TensorInfo[] {
  const packed = packedPrograms();
  const T = valueType(packed);
  const owned: tf.TensorInfo[] = [];
  const t = prepare(backend, given, packed, owned);
  const shape = t.param.shape;
  const u = p.uniforms;
  const grad = gradientCode(p, t.control !== undefined, T);
  const base = withControl(paramAndGrad(t), t);
  const m = run(
    backend,
    shape,
    {
      inputs: [...base, ['m', t.m]],
      uniforms: [...gradientUniforms(p), ['beta1', u.beta1], ['oneMinusBeta1', u.oneMinusBeta1]],
      body: `${grad}\n  result = old * beta1 + oneMinusBeta1 * g;`,
    },
    'm',
    packed,
  );
  const v = run(
    backend,
    shape,
    {
      inputs: [...base, ['v', t.v]],
      uniforms: [...gradientUniforms(p), ['beta2', u.beta2], ['oneMinusBeta2', u.oneMinusBeta2]],
      body: `${grad}\n  result = old * beta2 + (oneMinusBeta2 * g) * g;`,
    },
    'v',
    packed,
  );
  const outputs = [m, v];
  let second = v;
  if (p.amsgrad && t.vMax) {
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
        body: 'result = max(old, getVNewAtOutCoords());',
      },
      'vMax',
      packed,
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
        ...(p.useDecay ? ([['decay', u.decay]] as [string, number][]) : []),
        ['bc2Sqrt', u.bc2Sqrt],
        ['eps', u.eps],
        ['negStepSize', u.negStepSize],
      ],
      body: [
        p.useDecay ? `${T} theta = old * decay;` : `${T} theta = old;`,
        `${T} denom = sqrt(getSecondAtOutCoords()) / bc2Sqrt + eps;`,
        'result = theta + (negStepSize * getMNewAtOutCoords()) / denom;',
      ].join('\n  '),
    },
    'param',
    packed,
  );
  disposeAll(backend, owned);
  return [theta, ...outputs];
}

/** SGD family: returns [param, buf?] as new textures. */
export function sgdUpdateWebGL(
  backend: WebGLBackend,
  given: Named & { buf?: tf.TensorInfo },
  p: SgdParts,
): tf.TensorInfo[] {
  const packed = packedPrograms();
  const T = valueType(packed);
  const owned: tf.TensorInfo[] = [];
  const t = prepare(backend, given, packed, owned);
  const shape = t.param.shape;
  const u = p.uniforms;
  const grad = gradientCode(p, t.control !== undefined, T);
  const thetaGrad = gradientCode(p, t.control !== undefined, T, 'old');
  const base = withControl(paramAndGrad(t), t);
  const lrUniforms: [string, number][] = [...gradientUniforms(p), ['negLr', u.negLr]];
  if (!p.momentum || !t.buf) {
    const theta = run(
      backend,
      shape,
      { inputs: base, uniforms: lrUniforms, body: `${thetaGrad}\n  result = theta + negLr * g;` },
      'param',
      packed,
    );
    disposeAll(backend, owned);
    return [theta];
  }
  const buf = run(
    backend,
    shape,
    {
      // A first step reads no buffer, except to keep it when the step is skipped.
      inputs: p.firstStep && !t.control ? base : [...base, ['buf', t.buf]],
      uniforms: [
        ...gradientUniforms(p),
        ['momentum', u.momentum],
        ['oneMinusDampening', u.oneMinusDampening],
      ],
      body: p.firstStep
        ? `${grad}\n  result = g;`
        : `${grad}\n  result = old * momentum + oneMinusDampening * g;`,
    },
    'buf',
    packed,
  );
  const direction = p.nesterov ? 'g + momentum * getBufNewAtOutCoords()' : 'getBufNewAtOutCoords()';
  const theta = run(
    backend,
    shape,
    {
      inputs: [...base, ['bufNew', buf]],
      uniforms: p.nesterov ? [...lrUniforms, ['momentum', u.momentum]] : lrUniforms,
      body: `${thetaGrad}\n  result = theta + negLr * (${direction});`,
    },
    'param',
    packed,
  );
  disposeAll(backend, owned);
  return [theta, buf];
}
