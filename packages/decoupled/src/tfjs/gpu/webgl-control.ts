/**
 * The step control (./control.ts) on tfjs-backend-webgl, as GPGPU programs over every gradient of
 * the step at once:
 *
 *   rows     R fragments, laid out ROWS_W wide; fragment r reads units r, r + R, r + 2R, ... of
 *            every input and writes one partial (./control.ts's encoding): the largest |bits| of
 *            its elements and, with clipNorm, their sum of squares. A unit is a texel: 4 elements
 *            (a 2 x 2 block) of a packed gradient, 1 of an unpacked one. Each program reads the
 *            gradients of one layout (tfjs would convert the others, one pass each), up to the
 *            shader's texture limit; R = ceil(largest gradient's units / ROW), rounded to ROWS_W
 *   combine  while there are more rows textures than the final pass reads, or R > FINAL_ROWS,
 *            fragments combine the rows of several textures (and FAN_IN rows to 1)
 *   final    the state (packed when the update programs are: ./webgl-update.ts), from the rows
 *            and the previous state
 *
 * So a step of up to 16 gradients of one layout whose largest has at most 64K texels takes 2
 * programs. Fragment r reading r, r + R, ... keeps neighbouring fragments on neighbouring texels.
 * The rows are a 2D texture, not one row: SwiftShader shades 2 x 2 quads and splits a draw by
 * rows, and a one-row target halves the first and serializes the second (browser CPU time for
 * 16 x 64K elements, bench:browser's way: 23 ms in one row, 12 ms in 32 x 32).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { env, util } from '@tensorflow/tfjs-core';
import { type ControlAttrs, STATE, STATE_SIZE } from './control.js';
import { isPackedTexture, packedPrograms, type WebGLBackend } from './webgl-update.js';

/** Units (texels) of the largest input each rows fragment reads. */
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
  options: { uniforms?: [string, number][]; packedInputs?: boolean; packedOutput?: boolean } = {},
): tf.TensorInfo {
  const uniforms = options.uniforms ?? [];
  return backend.compileAndRun(
    {
      variableNames: names,
      outputShape,
      customUniforms: uniforms.map(([name]) => ({ name, type: 'float' })),
      packedInputs: options.packedInputs ?? false,
      packedOutput: options.packedOutput ?? false,
      userCode,
    },
    inputs,
    'float32',
    uniforms.map(([, value]) => [value]),
    true,
  );
}

/**
 * A gradient as a rows program reads it: unpacked, flat; packed, as [B, R, C] (the last two
 * dimensions, the rest folded into B), which shares the layout of its packed texture (tfjs'
 * isReshapeFree), so no reshape pass runs.
 */
function asRead(x: tf.TensorInfo, packed: boolean): tf.TensorInfo {
  const shape = x.shape;
  const size = util.sizeFromShape(shape);
  if (!packed) return { ...x, shape: [size] };
  const r = shape.length >= 2 ? shape[shape.length - 2] : 1;
  const c = shape.length >= 1 ? shape[shape.length - 1] : 1;
  return { ...x, shape: [size === 0 ? 0 : size / (r * c), r, c] };
}

/** The units of `x` (read by asRead) a rows program reads: texels if packed, else elements. */
function units(x: tf.TensorInfo, packed: boolean): number {
  if (!packed) return util.sizeFromShape(x.shape);
  const [b, r, c] = asRead(x, true).shape;
  return b * Math.ceil(r / 2) * Math.ceil(c / 2);
}

/** GLSL of a rows program's loop over input j (`x`, read by asRead). */
function rowsLoop(x: tf.TensorInfo, j: number, rows: number, packed: boolean, squares: boolean) {
  const n = units(x, packed);
  const head = `for (int k = 0; k < ${Math.ceil(n / rows)}; k++) {
    int i = r + k * ${rows};
    if (i >= ${n}) break;`;
  if (!packed) {
    return `${head}
    float x = getX${j}(i);
    worst = max(worst, floatBitsToUint(x) & 0x7fffffffu);${squares ? '\n    sum += x * x;' : ''}
  }`;
  }
  // Texel i of [B, R, C] is batch i / (HR * HC), row pair (i % (HR * HC)) / HC, column pair
  // i % HC; lanes past an odd R or C hold no element and are zeroed.
  const [batches, r, c] = asRead(x, true).shape;
  const hr = Math.ceil(r / 2);
  const hc = Math.ceil(c / 2);
  const lines = [head];
  if (batches > 1) lines.push(`    int b = i / ${hr * hc};`, `    i -= b * ${hr * hc};`);
  else lines.push('    int b = 0;');
  lines.push(`    int row = i / ${hc};`, `    int col = i - row * ${hc};`);
  lines.push(`    vec4 x = getX${j}(b, 2 * row, 2 * col);`);
  if (c % 2 === 1) lines.push(`    if (col == ${hc - 1}) x.yw = vec2(0.0);`);
  if (r % 2 === 1) lines.push(`    if (row == ${hr - 1}) x.zw = vec2(0.0);`);
  lines.push('    worst4 = max(worst4, floatBitsToUint(x) & 0x7fffffffu);');
  if (squares) lines.push('    sum4 += x * x;');
  return `${lines.join('\n')}
  }`;
}

/** One rows program over `xs` (all packed, or all not), as `rows` fragments. */
function rowsPass(
  backend: WebGLBackend,
  xs: tf.TensorInfo[],
  packed: boolean,
  rows: number,
  squares: boolean,
): tf.TensorInfo {
  const loops = xs.map((x, j) => rowsLoop(x, j, rows, packed, squares));
  const userCode = `${PARTIALS}
void main() {
  ivec2 rc = getOutputCoords();
  int r = rc.x * ${ROWS_W} + rc.y;
  float sum = 0.0;
  uint worst = 0u;
  vec4 sum4 = vec4(0.0);
  uvec4 worst4 = uvec4(0u);
  ${loops.join('\n  ')}
  sum += (sum4.x + sum4.y) + (sum4.z + sum4.w);
  worst = max(worst, max(max(worst4.x, worst4.y), max(worst4.z, worst4.w)));
  setOutput(encodePartial(sum, badOfBits(worst)));
}`;
  return run(
    backend,
    xs.map((_, j) => `x${j}`),
    xs.map((x) => asRead(x, packed)),
    [rows / ROWS_W, ROWS_W],
    userCode,
    { packedInputs: packed },
  );
}

/** GLSL adding row i of every rows input (`rows0`, `rows1`, ...) to `sum` and `bad`. */
function addRows(count: number, i: string): string {
  return Array.from({ length: count }, (_, j) => `addPartial(sum, bad, getRows${j}(${i}));`).join(
    ' ',
  );
}

/** Combines the rows textures `rows` (each n rows, flat) into one of ceil(n / fanIn) rows. */
function combinePass(
  backend: WebGLBackend,
  rows: tf.TensorInfo[],
  n: number,
  fanIn: number,
): tf.TensorInfo {
  const out = Math.ceil(n / fanIn);
  const userCode = `${PARTIALS}
void main() {
  int r = getOutputCoords();
  float sum = 0.0;
  float bad = 0.0;
  for (int k = 0; k < ${fanIn}; k++) {
    int i = r + k * ${out};
    if (i >= ${n}) break;
    ${addRows(rows.length, 'i')}
  }
  setOutput(encodePartial(sum, bad));
}`;
  return run(
    backend,
    rows.map((_, j) => `rows${j}`),
    rows,
    [out],
    userCode,
  );
}

/**
 * The state from the rows textures (n rows each) and the previous state; packed (`packedState`)
 * for packed update programs, which then read it without a conversion pass.
 */
function finalPass(
  backend: WebGLBackend,
  rows: tf.TensorInfo[],
  n: number,
  prev: tf.TensorInfo | null,
  attrs: ControlAttrs,
  packedState: boolean,
): tf.TensorInfo {
  const clip = attrs.clipNorm > 0;
  const userCode = `${PARTIALS}
float sum = 0.0;
float bad = 0.0;
float finite;
float scale = 1.0;
float norm;
float stateValue(int slot) {
  if (slot == ${STATE.control}) return finite == 1.0 ? scale : 0.0;
  if (slot == ${STATE.finite}) return finite;
  if (slot == ${STATE.norm}) return ${clip ? 'norm' : '0.0'};
  return ${prev ? `getPrev(${STATE.skipped})` : '0.0'} + (1.0 - finite);
}
void main() {
  for (int i = 0; i < ${n}; i++) {
    ${addRows(rows.length, 'i')}
  }
  norm = bad == 2.0 ? NAN : (bad == 1.0 ? uintBitsToFloat(0x7f800000u) : sqrt(sum));
  ${
    clip
      ? `float c = clipNorm / (norm + 1e-6);
  if ((floatBitsToUint(norm) & 0x7fffffffu) < 0x7f800000u && c < 1.0) scale = c;`
      : ''
  }
  finite = ${attrs.checkFinite ? '(bad == 0.0 ? 1.0 : 0.0)' : '1.0'};
  int slot = getOutputCoords();
  ${
    packedState
      ? 'setOutput(vec4(stateValue(slot), stateValue(slot + 1), 0.0, 0.0));'
      : 'setOutput(stateValue(slot));'
  }
}`;
  const names = rows.map((_, j) => `rows${j}`);
  const inputs = [...rows];
  if (prev) {
    names.push('prev');
    inputs.push(prev);
  }
  return run(backend, names, inputs, [STATE_SIZE], userCode, {
    uniforms: clip ? [['clipNorm', attrs.clipNorm]] : [],
    packedOutput: packedState,
  });
}

/** The step's state (./control.ts) from the gradients `xs` (any shapes) and the last state. */
export function stepControlWebGL(
  backend: WebGLBackend,
  xs: tf.TensorInfo[],
  prev: tf.TensorInfo | null,
  attrs: ControlAttrs,
): tf.TensorInfo {
  const packedState = packedPrograms();
  // Each gradient is read in its texture's layout (one not yet uploaded, in the updates').
  const groups: [boolean, tf.TensorInfo[]][] = [
    [true, xs.filter((x) => isPackedTexture(backend, x, packedState))],
    [false, xs.filter((x) => !isPackedTexture(backend, x, packedState))],
  ];
  const largest = Math.max(1, ...xs.map((x) => units(x, isPackedTexture(backend, x, packedState))));
  let n = Math.ceil(Math.ceil(largest / ROW) / ROWS_W) * ROWS_W;
  const maxInputs = Math.max(2, env().getNumber('WEBGL_MAX_TEXTURES_IN_SHADER'));
  let rows: tf.TensorInfo[] = [];
  for (const [packed, group] of groups) {
    for (let start = 0; start < group.length; start += maxInputs) {
      const chunk = group.slice(start, start + maxInputs);
      // Read flat from here on.
      const out = rowsPass(backend, chunk, packed, n, attrs.clipNorm > 0);
      rows.push({ ...out, shape: [n] } as tf.TensorInfo);
    }
  }
  if (rows.length === 0) rows.push({ ...rowsPass(backend, [], false, n, false), shape: [n] });
  // The final pass reads the previous state too.
  while (rows.length > maxInputs - 1 || n > FINAL_ROWS) {
    const fanIn = n > FINAL_ROWS ? FAN_IN : 1;
    const next: tf.TensorInfo[] = [];
    for (let start = 0; start < rows.length; start += maxInputs) {
      next.push(combinePass(backend, rows.slice(start, start + maxInputs), n, fanIn));
    }
    for (const r of rows) backend.disposeIntermediateTensorInfo(r);
    rows = next;
    n = Math.ceil(n / fanIn);
  }
  const state = finalPass(backend, rows, n, prev, attrs, packedState);
  for (const r of rows) backend.disposeIntermediateTensorInfo(r);
  return state;
}
