/**
 * The step control (./control.ts) on tfjs-backend-webgpu, as WGSL dispatches over every gradient
 * of the step at once, recorded like the updates (./webgpu-update.ts's `record`):
 *
 *   partials  per group of up to 7 gradients (WebGPU's default limit is 8 storage buffers per
 *             stage; the 8th is the output), N invocations: invocation j reads elements j,
 *             j + N, j + 2N, ... of every gradient of the group (as vec4 where the size allows)
 *             and writes one partial (./control.ts's encoding) at its group's offset in one
 *             buffer; N = largest gradient / 64, at most 64K
 *   combine   while there are more than FINAL_PARTIALS: FAN_IN partials to 1
 *   final     one workgroup of 64 combines the partials (in workgroup memory at the end) and
 *             writes the state
 *
 * So a step of up to 7 gradients takes 2 dispatches, 16 gradients 4, where the check from tf ops
 * took a multiply and a tfjs sum per gradient and seven small ops after them (and clipNorm a
 * square and a sum per gradient). The shape suits SwiftShader, a CPU running invocations as
 * coroutines (browser CPU time for 16 x 64K elements, bench:browser's way, load 8-11): partials per
 * invocation, not per workgroup, since a workgroup reduction's barriers cost more than the reads
 * (11 against 6 ms); and 64 elements per invocation (16: 8 ms, 4: 12 ms). A GPU still gets 16K
 * invocations for a 1M-element gradient.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { util } from '@tensorflow/tfjs-core';
import { type ControlAttrs, STATE, STATE_SIZE } from './control.js';
import { record, type WebGPUBackend } from './webgpu-update.js';

const WORKGROUP = 64;
const PER_INVOCATION = 64;
const MAX_INVOCATIONS = 65536;
/** Gradients per partials dispatch: 8 storage buffers, one of them the partials. */
const PER_DISPATCH = 7;
/** Most partials the final workgroup combines; above it, combine dispatches reduce them. */
const FINAL_PARTIALS = 16384;
const FAN_IN = 64;

/** WGSL: ./control.ts's encoding of a partial, and how two combine. */
const PARTIALS = `
fn encode(sum: f32, worst: u32) -> f32 {
  if (worst > 0x7f800000u) { return -2.0; }
  if (worst == 0x7f800000u) { return -1.0; }
  return sum;
}
fn combine(a: f32, b: f32) -> f32 {
  if (a < 0.0 || b < 0.0) { return min(a, b); }
  return a + b;
}`;

/** One partials dispatch over `xs` by `invocations`, writing at `offset` of `partials`. */
function partialsPass(
  backend: WebGPUBackend,
  xs: tf.TensorInfo[],
  partials: tf.TensorInfo,
  offset: number,
  invocations: number,
  squares: boolean,
): void {
  const lines = [
    'struct Scalars { size: u32, };',
    '@group(0) @binding(0) var<uniform> s: Scalars;',
  ];
  const sizes = xs.map((x) => util.sizeFromShape(x.shape));
  for (const [j, n] of sizes.entries()) {
    const type = n % 4 === 0 ? 'vec4<f32>' : 'f32';
    lines.push(`@group(0) @binding(${j + 1}) var<storage, read> x${j}: array<${type}>;`);
  }
  lines.push(
    `@group(0) @binding(${xs.length + 1}) var<storage, read_write> partials: array<f32>;`,
    PARTIALS,
    `@compute @workgroup_size(${WORKGROUP})`,
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
    // s.size: the invocations, the stride of every loop.
    '  let stride = s.size;',
    '  var sum = 0.0;',
    '  var worst = 0u;',
    '  var sum4 = vec4<f32>(0.0);',
    '  var worst4 = vec4<u32>(0u);',
  );
  for (const [j, n] of sizes.entries()) {
    const vec = n % 4 === 0;
    lines.push(
      `  for (var i = gid.x; i < ${vec ? n / 4 : n}u; i += stride) {`,
      `    let x = x${j}[i];`,
      vec
        ? '    worst4 = max(worst4, bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu));'
        : '    worst = max(worst, bitcast<u32>(x) & 0x7fffffffu);',
      squares ? `    ${vec ? 'sum4' : 'sum'} += x * x;` : '',
      '  }',
    );
  }
  lines.push(
    '  sum += (sum4.x + sum4.y) + (sum4.z + sum4.w);',
    '  worst = max(worst, max(max(worst4.x, worst4.y), max(worst4.z, worst4.w)));',
    `  partials[${offset}u + gid.x] = encode(sum, worst);`,
    '}',
  );
  record(backend, lines.join('\n'), [], [...xs, partials], invocations);
}

/** Combines `partials` FAN_IN to 1; returns the new ones. */
function combinePass(backend: WebGPUBackend, partials: tf.TensorInfo): tf.TensorInfo {
  const n = util.sizeFromShape(partials.shape);
  const out = Math.ceil(n / FAN_IN);
  const combined = backend.makeTensorInfo([out], 'float32');
  const code = [
    'struct Scalars { size: u32, };',
    '@group(0) @binding(0) var<uniform> s: Scalars;',
    '@group(0) @binding(1) var<storage, read> partials: array<f32>;',
    '@group(0) @binding(2) var<storage, read_write> combined: array<f32>;',
    PARTIALS,
    `@compute @workgroup_size(${WORKGROUP})`,
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
    `  if (gid.x >= ${out}u) { return; }`,
    '  var acc = 0.0;',
    `  for (var i = gid.x; i < s.size; i += ${out}u) { acc = combine(acc, partials[i]); }`,
    '  combined[gid.x] = acc;',
    '}',
  ].join('\n');
  record(backend, code, [], [partials, combined], n, out);
  return combined;
}

/** The state from the partials and the previous state. */
function finalPass(
  backend: WebGPUBackend,
  partials: tf.TensorInfo,
  prev: tf.TensorInfo | null,
  attrs: ControlAttrs,
): tf.TensorInfo {
  const state = backend.makeTensorInfo([STATE_SIZE], 'float32');
  const clip = attrs.clipNorm > 0;
  const inputs = prev ? [partials, prev] : [partials];
  const lines = [
    // NaN and Inf come as uniforms: a WGSL constant expression may not evaluate to either.
    'struct Scalars { clipNorm: f32, nan: f32, inf: f32, size: u32, };',
    '@group(0) @binding(0) var<uniform> s: Scalars;',
    '@group(0) @binding(1) var<storage, read> partials: array<f32>;',
    prev ? '@group(0) @binding(2) var<storage, read> prev: array<f32>;' : '',
    `@group(0) @binding(${inputs.length + 1}) var<storage, read_write> state: array<f32>;`,
    PARTIALS,
    `var<workgroup> part: array<f32, ${WORKGROUP}>;`,
    `@compute @workgroup_size(${WORKGROUP})`,
    'fn main(@builtin(local_invocation_index) lid: u32) {',
    '  var acc = 0.0;',
    `  for (var i = lid; i < s.size; i += ${WORKGROUP}u) { acc = combine(acc, partials[i]); }`,
    '  part[lid] = acc;',
    '  workgroupBarrier();',
    `  for (var w = ${WORKGROUP / 2}u; w > 0u; w = w >> 1u) {`,
    '    if (lid < w) { part[lid] = combine(part[lid], part[lid + w]); }',
    '    workgroupBarrier();',
    '  }',
    '  if (lid != 0u) { return; }',
    '  let p = part[0];',
    '  var norm = sqrt(max(p, 0.0));',
    '  if (p == -2.0) { norm = s.nan; } else if (p == -1.0) { norm = s.inf; }',
    '  var scale = 1.0;',
    clip
      ? `  let c = s.clipNorm / (norm + 1e-6);
  if ((bitcast<u32>(norm) & 0x7fffffffu) < 0x7f800000u && c < 1.0) { scale = c; }`
      : '',
    `  let finite = ${attrs.checkFinite ? 'select(1.0, 0.0, p < 0.0)' : '1.0'};`,
    `  state[${STATE.control}] = select(0.0, scale, finite == 1.0);`,
    `  state[${STATE.finite}] = finite;`,
    `  state[${STATE.norm}] = ${clip ? 'norm' : '0.0'};`,
    `  state[${STATE.skipped}] = ${prev ? `prev[${STATE.skipped}]` : '0.0'} + (1.0 - finite);`,
    '}',
  ];
  const size = util.sizeFromShape(partials.shape);
  const scalars = [attrs.clipNorm, Number.NaN, Number.POSITIVE_INFINITY];
  record(backend, lines.join('\n'), scalars, [...inputs, state], size, WORKGROUP);
  return state;
}

/** The step's state (./control.ts) from the gradients `xs` and the last state. */
export function stepControlWebGPU(
  backend: WebGPUBackend,
  xs: tf.TensorInfo[],
  prev: tf.TensorInfo | null,
  attrs: ControlAttrs,
): tf.TensorInfo {
  const largest = Math.max(1, ...xs.map((x) => util.sizeFromShape(x.shape)));
  const invocations =
    WORKGROUP *
    Math.min(MAX_INVOCATIONS / WORKGROUP, Math.ceil(largest / (WORKGROUP * PER_INVOCATION)));
  const dispatches = Math.max(1, Math.ceil(xs.length / PER_DISPATCH));
  let partials = backend.makeTensorInfo([dispatches * invocations], 'float32');
  for (let d = 0; d < dispatches; d++) {
    const group = xs.slice(d * PER_DISPATCH, (d + 1) * PER_DISPATCH);
    partialsPass(backend, group, partials, d * invocations, invocations, attrs.clipNorm > 0);
  }
  while (util.sizeFromShape(partials.shape) > FINAL_PARTIALS) {
    const next = combinePass(backend, partials);
    backend.disposeData(partials.dataId);
    partials = next;
  }
  const state = finalPass(backend, partials, prev, attrs);
  backend.disposeData(partials.dataId);
  return state;
}
