/**
 * The all-finite check of a gradient in one pass on the GPU backends: the tensor, viewed flat, is
 * cut into rows of ROW elements, and one invocation per row writes 1 if all of its elements are
 * finite, else 0:
 *
 *   rows[r] = 1 if every x[r * ROW + k] (k < ROW) is finite, else 0
 *
 * The step control (./ops-update.ts) then takes the min over every gradient's rows, a reduction of
 * size n / ROW. tfjs' own isFinite then all() costs two passes over n plus the reduction's.
 * Non-finite is tested on the bits, (bits & 0x7fffffff) >= 0x7f800000, because shader compilers
 * may assume IEEE special values away from isnan/isinf (WGSL allows it).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { util } from '@tensorflow/tfjs-core';
import type { WebGLBackend } from './webgl-update.js';
import { record, type WebGPUBackend } from './webgpu-update.js';

/** Elements per row: one shader invocation checks this many. */
export const ROW = 64;

/** The webgl program: one fragment per row of `x`, a rank-1 tensor (reshape it first). */
export function finiteRowsWebGL(backend: WebGLBackend, x: tf.TensorInfo): tf.TensorInfo {
  const size = util.sizeFromShape(x.shape);
  return backend.compileAndRun(
    {
      variableNames: ['x'],
      outputShape: [Math.ceil(size / ROW)],
      customUniforms: [],
      userCode: `void main() {
  int start = getOutputCoords() * ${ROW};
  float result = 1.0;
  for (int k = 0; k < ${ROW}; k++) {
    int i = start + k;
    if (i >= ${size}) break;
    if ((floatBitsToUint(getX(i)) & 0x7fffffffu) >= 0x7f800000u) result = 0.0;
  }
  setOutput(result);
}`,
    },
    [x],
    'float32',
  );
}

const WGSL = `struct Scalars { size: u32, };
@group(0) @binding(0) var<uniform> s: Scalars;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> rows: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let r = gid.y * groups.x * 64u + gid.x;
  let n = s.size;
  if (r * ${ROW}u >= n) { return; }
  var result = 1.0;
  for (var k = 0u; k < ${ROW}u; k++) {
    let i = r * ${ROW}u + k;
    if (i >= n) { break; }
    if ((x[i] & 0x7fffffffu) >= 0x7f800000u) { result = 0.0; }
  }
  rows[r] = result;
}`;

/** The webgpu shader: one invocation per row, the gradient's buffer read as u32 bits. */
export function finiteRowsWebGPU(backend: WebGPUBackend, x: tf.TensorInfo): tf.TensorInfo {
  const rows = Math.ceil(util.sizeFromShape(x.shape) / ROW);
  const output = backend.makeTensorInfo([rows], 'float32');
  record(backend, WGSL, [], [x, output], util.sizeFromShape(x.shape), rows);
  return output;
}
