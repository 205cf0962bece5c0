/**
 * The step control (./control.ts) on tfjs-backend-webgl, as GPGPU programs over every gradient of
 * the step at once:
 *
 *   rows     R = ceil(largest gradient / ROW) fragments, laid out ROWS_W wide; fragment r reads
 *            elements r, r + R, r + 2R, ... of every input (up to the shader's texture limit per
 *            program; more inputs chain, each program also reading the rows of the one before)
 *            and writes one partial (./control.ts's encoding): the largest |bits| of its
 *            elements and, with clipNorm, their sum of squares
 *   combine  while R > FINAL_ROWS: R <- ceil(R / FAN_IN), each fragment combining FAN_IN rows
 *   final    4 fragments, one per state value, each combining the <= FINAL_ROWS rows
 *
 * So a step of up to 15 gradients whose largest has at most 64K elements takes 2 programs, where
 * the check from tf ops took one program per gradient and a tfjs reduction after them (and
 * clipNorm a square and a three-pass sum per gradient). Fragment r reading r, r + R, ... keeps
 * neighbouring fragments on neighbouring texels. The rows are a 2D texture, not one row:
 * SwiftShader shades 2 x 2 quads and splits a draw by rows, and a one-row target halves the first
 * and serializes the second (browser CPU time for 16 x 64K elements, bench:browser's way: 23 ms
 * in one row, 12 ms in 32 x 32).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { env, util } from '@tensorflow/tfjs-core';
import { type ControlAttrs, STATE, STATE_SIZE } from './control.js';
import type { WebGLBackend } from './webgl-update.js';

/** Elements of the largest input each rows fragment reads. */
const ROW = 64;
/** Most rows the final pass reads; above it, combine passes reduce them FAN_IN to 1. */
const FINAL_ROWS = 1024;
const FAN_IN = 64;
/** Width of the rows texture. */
const ROWS_W = 32;

/** GLSL: adds partial `p` (./control.ts's encoding) to `sum` and `bad` (1: Inf, 2: NaN). */
const PARTIALS = `
void addPartial(inout float sum, inout float bad, float p) {
  if (p < 0.0) bad = max(bad, -p); else sum += p;
}
float encodePartial(float sum, float bad) { return bad > 0.0 ? -bad : sum; }
float badOfBits(uint worst) {
  return worst > 0x7f800000u ? 2.0 : (worst == 0x7f800000u ? 1.0 : 0.0);
}`;

function run(
  backend: WebGLBackend,
  names: string[],
  inputs: tf.TensorInfo[],
  outputShape: number[],
  userCode: string,
  uniforms: [string, number][] = [],
): tf.TensorInfo {
  return backend.compileAndRun(
    {
      variableNames: names,
      outputShape,
      customUniforms: uniforms.map(([name]) => ({ name, type: 'float' })),
      userCode,
    },
    inputs,
    'float32',
    uniforms.map(([, value]) => [value]),
  );
}

/** One rows program over `xs` (rank 1), adding the rows of `prev` if given. */
function rowsPass(
  backend: WebGLBackend,
  xs: tf.TensorInfo[],
  prev: tf.TensorInfo | null,
  rows: number,
  squares: boolean,
): tf.TensorInfo {
  const loops = xs.map((x, j) => {
    const size = util.sizeFromShape(x.shape);
    return `for (int k = 0; k < ${Math.ceil(size / rows)}; k++) {
    int i = r + k * ${rows};
    if (i >= ${size}) break;
    float x = getX${j}(i);
    worst = max(worst, floatBitsToUint(x) & 0x7fffffffu);${squares ? '\n    sum += x * x;' : ''}
  }`;
  });
  const names = xs.map((_, j) => `x${j}`);
  const inputs = [...xs];
  if (prev) {
    names.push('prev');
    inputs.push(prev);
  }
  const userCode = `${PARTIALS}
void main() {
  ivec2 rc = getOutputCoords();
  int r = rc.x * ${ROWS_W} + rc.y;
  float sum = 0.0;
  uint worst = 0u;
  ${loops.join('\n  ')}
  float bad = badOfBits(worst);
  ${prev ? 'addPartial(sum, bad, getPrev(rc.x, rc.y));' : ''}
  setOutput(encodePartial(sum, bad));
}`;
  return run(backend, names, inputs, [rows / ROWS_W, ROWS_W], userCode);
}

/** Combines `rows` FAN_IN to 1. */
function combinePass(backend: WebGLBackend, rows: tf.TensorInfo): tf.TensorInfo {
  const n = util.sizeFromShape(rows.shape);
  const out = Math.ceil(n / FAN_IN);
  const userCode = `${PARTIALS}
void main() {
  int r = getOutputCoords();
  float sum = 0.0;
  float bad = 0.0;
  for (int k = 0; k < ${FAN_IN}; k++) {
    int i = r + k * ${out};
    if (i >= ${n}) break;
    addPartial(sum, bad, getRows(i));
  }
  setOutput(encodePartial(sum, bad));
}`;
  return run(backend, ['rows'], [rows], [out], userCode);
}

/** The state from the last rows and the previous state. */
function finalPass(
  backend: WebGLBackend,
  rows: tf.TensorInfo,
  prev: tf.TensorInfo | null,
  attrs: ControlAttrs,
): tf.TensorInfo {
  const n = util.sizeFromShape(rows.shape);
  const clip = attrs.clipNorm > 0;
  const userCode = `${PARTIALS}
void main() {
  int slot = getOutputCoords();
  float sum = 0.0;
  float bad = 0.0;
  for (int i = 0; i < ${n}; i++) addPartial(sum, bad, getRows(i));
  float norm = bad == 2.0 ? NAN : (bad == 1.0 ? uintBitsToFloat(0x7f800000u) : sqrt(sum));
  float scale = 1.0;
  ${
    clip
      ? `float c = clipNorm / (norm + 1e-6);
  if ((floatBitsToUint(norm) & 0x7fffffffu) < 0x7f800000u && c < 1.0) scale = c;`
      : ''
  }
  float finite = ${attrs.checkFinite ? '(bad == 0.0 ? 1.0 : 0.0)' : '1.0'};
  float result;
  if (slot == ${STATE.control}) result = finite == 1.0 ? scale : 0.0;
  else if (slot == ${STATE.finite}) result = finite;
  else if (slot == ${STATE.norm}) result = ${clip ? 'norm' : '0.0'};
  else result = ${prev ? `getPrev(${STATE.skipped})` : '0.0'} + (1.0 - finite);
  setOutput(result);
}`;
  const names = prev ? ['rows', 'prev'] : ['rows'];
  const inputs = prev ? [rows, prev] : [rows];
  return run(
    backend,
    names,
    inputs,
    [STATE_SIZE],
    userCode,
    clip ? [['clipNorm', attrs.clipNorm]] : [],
  );
}

/** The step's state (./control.ts) from the gradients `xs` (rank 1) and the last state. */
export function stepControlWebGL(
  backend: WebGLBackend,
  xs: tf.TensorInfo[],
  prev: tf.TensorInfo | null,
  attrs: ControlAttrs,
): tf.TensorInfo {
  const largest = Math.max(1, ...xs.map((x) => util.sizeFromShape(x.shape)));
  let n = Math.ceil(Math.ceil(largest / ROW) / ROWS_W) * ROWS_W;
  // One sampler per input; chained programs also read the rows before them.
  const perProgram = Math.max(2, env().getNumber('WEBGL_MAX_TEXTURES_IN_SHADER')) - 1;
  let rows: tf.TensorInfo | null = null;
  for (let start = 0; start < xs.length || rows === null; start += perProgram) {
    const next = rowsPass(
      backend,
      xs.slice(start, start + perProgram),
      rows,
      n,
      attrs.clipNorm > 0,
    );
    if (rows) backend.disposeIntermediateTensorInfo(rows);
    rows = next;
  }
  // Read flat from here on.
  rows = { ...rows, shape: [n] } as tf.TensorInfo;
  while (n > FINAL_ROWS) {
    const next = combinePass(backend, rows);
    backend.disposeIntermediateTensorInfo(rows);
    rows = next;
    n = util.sizeFromShape(rows.shape);
  }
  const state = finalPass(backend, rows, prev, attrs);
  backend.disposeIntermediateTensorInfo(rows);
  return state;
}
