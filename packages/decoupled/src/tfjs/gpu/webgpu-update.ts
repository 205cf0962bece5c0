/**
 * The fused updates on tfjs-backend-webgpu: one WGSL compute shader per update that reads the
 * parameter and gradient and writes the new parameter and every slot in one dispatch, recorded
 * into the backend's own command encoder and compute pass (so it is ordered with the ops around
 * it, and submitted with them). The per-element math is the core's (src/core/kernels.ts), written
 * out in ./webgl-update.ts's doc comment.
 *
 * The slots are read_write storage buffers updated in place (the optimizer owns them and gives
 * each its own buffer first); the parameter goes to a fresh buffer from the backend's pool, so a
 * tensor a caller holds that shares the parameter's data never changes under it. In place is also
 * what fits WebGPU's default limit of 8 storage buffers per stage: Adam with amsgrad and the step
 * control binds 7 (param, grad, m, v, vMax, control, new param).
 * The step's scalars come through the kernel calling convention (src/kernels/abi.ts, ./args.ts):
 * its flags select the shader source (each variant compiles once per device), its float32
 * arguments go to the uniform buffer as they are. The optional `control` input is the
 * step control, ./control.ts's state: the shader reads its element 0, multiplies g by it, and keeps
 * the old values where it is 0 (a skipped step).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { env, util } from '@tensorflow/tfjs-core';
import type { AdamParts, SgdParts } from './args.js';

/** The parts of the WebGPU API this module calls (lib.dom has no WebGPU types yet). */
interface GpuPipeline {
  getBindGroupLayout(index: number): unknown;
}
interface GpuDevice {
  createShaderModule(descriptor: { code: string }): unknown;
  createComputePipeline(descriptor: {
    layout: 'auto';
    compute: { module: unknown; entryPoint: string };
  }): GpuPipeline;
  createBindGroup(descriptor: {
    layout: unknown;
    entries: { binding: number; resource: unknown }[];
  }): unknown;
}
interface GpuComputePass {
  setPipeline(pipeline: GpuPipeline): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
}
type Uniform = { type: 'float32' | 'uint32'; data: number[] };

/** The parts of tfjs-backend-webgpu's WebGPUBackend this module uses. */
export interface WebGPUBackend {
  device: GpuDevice;
  commandEncoder: { beginComputePass(descriptor: object): GpuComputePass } | null;
  computePassEncoder: GpuComputePass | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  makeTensorInfo(shape: number[], dtype: 'float32'): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  uploadToGPU(dataId: object): void;
  tensorToBinding(info: tf.TensorInfo): unknown;
  makeUniforms(uniforms: Uniform[]): unknown;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

const WORKGROUP = 64;
/**
 * Elements per shader invocation. Fewer, longer invocations: SwiftShader (a CPU) pays per
 * workgroup, and GPUs lose nothing at this count.
 */
const ELEMENTS_PER_INVOCATION = 8;
const MAX_GROUPS_PER_DIM = 65535;
const pipelines = new WeakMap<object, Map<string, GpuPipeline>>();

function pipelineFor(device: GpuDevice, code: string): GpuPipeline {
  let cache = pipelines.get(device);
  if (!cache) {
    cache = new Map();
    pipelines.set(device, cache);
  }
  let pipeline = cache.get(code);
  if (!pipeline) {
    const module = device.createShaderModule({ code });
    pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint: 'main' },
    });
    cache.set(code, pipeline);
  }
  return pipeline;
}

/** An update as the shader sees it: named inputs, scalars, and the per-element body. */
interface Shader {
  /** Read-only inputs. */
  inputs: [string, tf.TensorInfo][];
  /** Slots updated in place, each from a local `<name>New`. */
  slots: [string, tf.TensorInfo][];
  scalars: [string, number][];
  /** Computes `paramNew` and every `<slot>New`. */
  body: string;
}

/** Builds the WGSL source: bindings, the uniform struct, the index and the skip branch. */
function wgsl(shader: Shader): string {
  const hasControl = shader.inputs.some(([name]) => name === 'control');
  const lines = ['struct Scalars {'];
  for (const [name] of shader.scalars) lines.push(`  ${name}: f32,`);
  lines.push('  size: u32,', '};', '@group(0) @binding(0) var<uniform> s: Scalars;');
  let binding = 1;
  for (const [name] of shader.inputs) {
    lines.push(`@group(0) @binding(${binding++}) var<storage, read> ${name}: array<f32>;`);
  }
  for (const [name] of shader.slots) {
    lines.push(`@group(0) @binding(${binding++}) var<storage, read_write> ${name}: array<f32>;`);
  }
  lines.push(`@group(0) @binding(${binding++}) var<storage, read_write> paramOut: array<f32>;`);
  const store = shader.slots.map(([name]) => `${name}[i] = ${name}New;`).join('\n  ');
  lines.push(
    `@compute @workgroup_size(${WORKGROUP})`,
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>,',
    '        @builtin(num_workgroups) groups: vec3<u32>) {',
    // Grid-stride: each invocation takes ELEMENTS_PER_INVOCATION elements, `stride` apart.
    `  let stride = groups.x * groups.y * ${WORKGROUP}u;`,
    `  let first = gid.y * groups.x * ${WORKGROUP}u + gid.x;`,
    // The control read once, not per element (the compiler cannot hoist a load past stores to
    // buffers that may alias it); a skipped step copies the parameter and leaves the slots.
    hasControl
      ? `  let control0 = control[0];
  if (control0 == 0.0) {
    for (var i = first; i < s.size; i += stride) { paramOut[i] = param[i]; }
    return;
  }`
      : '',
    '  for (var i = first; i < s.size; i += stride) {',
    `  ${shader.body}`,
    `  ${store}`,
    '  paramOut[i] = paramNew;',
    '  }',
    '}',
  );
  return lines.join('\n');
}

/** Records one dispatch of `shader`; returns the new parameter. */
function dispatch(backend: WebGPUBackend, shape: number[], shader: Shader): tf.TensorInfo {
  const bound = [...shader.inputs, ...shader.slots].map(([, info]) => info);
  const output = backend.makeTensorInfo(shape, 'float32');
  const scalars = shader.scalars.map(([, value]) => value);
  const size = util.sizeFromShape(shape);
  const invocations = Math.ceil(size / ELEMENTS_PER_INVOCATION);
  record(backend, wgsl(shader), scalars, [...bound, output], size, invocations);
  return output;
}

/**
 * Records one dispatch of the WGSL `code` over `invocations` invocations into the backend's compute
 * pass: binding 0 the uniforms (`scalars` as f32, then `size` as u32), then `buffers` in order.
 */
export function record(
  backend: WebGPUBackend,
  code: string,
  scalars: number[],
  buffers: tf.TensorInfo[],
  size: number,
  invocations = size,
): void {
  const pipeline = pipelineFor(backend.device, code);
  for (const info of buffers) backend.uploadToGPU(info.dataId);
  const uniforms: Uniform[] = scalars.map((value) => ({ type: 'float32', data: [value] }));
  uniforms.push({ type: 'uint32', data: [size] });
  const resources = [
    backend.makeUniforms(uniforms),
    ...buffers.map((info) => backend.tensorToBinding(info)),
  ];
  const bindGroup = backend.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: resources.map((resource, binding) => ({ binding, resource })),
  });
  // Buffers in recorded commands are released only after the submit (the backend's rule).
  for (const info of buffers) backend.commandQueueOwnedIds.add(info.dataId);
  backend.ensureCommandEncoderReady();
  backend.computePassEncoder ??= backend.commandEncoder?.beginComputePass({}) ?? null;
  const pass = backend.computePassEncoder as GpuComputePass;
  const groups = Math.ceil(invocations / WORKGROUP);
  const x = Math.min(groups, MAX_GROUPS_PER_DIM);
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(x, Math.ceil(groups / x), 1);
  backend.dispatchCountInPass++;
  if (Number(env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')) <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

/** WGSL computing `theta` (decayed) and `g` (effective gradient) at element i. */
function gradientCode(
  p: { useDecay: boolean; useL2: boolean; maximize: boolean },
  control: boolean,
): string {
  return [
    p.useDecay ? 'let theta = param[i] * s.decay;' : 'let theta = param[i];',
    `var g = ${p.maximize ? '-' : ''}grad[i];`,
    control ? 'g = g * control0;' : '',
    p.useL2 ? 'g = g + s.l2 * theta;' : '',
  ].join('\n  ');
}

interface Named {
  param: tf.TensorInfo;
  grad: tf.TensorInfo;
  control?: tf.TensorInfo;
}

function inputsOf(t: Named): [string, tf.TensorInfo][] {
  const inputs: [string, tf.TensorInfo][] = [
    ['param', t.param],
    ['grad', t.grad],
  ];
  if (t.control) inputs.push(['control', t.control]);
  return inputs;
}

/** Adam family in one dispatch: returns [param] (new); m, v and vMax change in place. */
export function adamUpdateWebGPU(
  backend: WebGPUBackend,
  t: Named & { m: tf.TensorInfo; v: tf.TensorInfo; vMax?: tf.TensorInfo },
  p: AdamParts,
): tf.TensorInfo[] {
  const amsgrad = p.amsgrad && t.vMax !== undefined;
  const slots: [string, tf.TensorInfo][] = [
    ['m', t.m],
    ['v', t.v],
  ];
  if (amsgrad && t.vMax) slots.push(['vMax', t.vMax]);
  const body = [
    gradientCode(p, t.control !== undefined),
    'let mNew = m[i] * s.beta1 + s.oneMinusBeta1 * g;',
    'let vNew = v[i] * s.beta2 + (s.oneMinusBeta2 * g) * g;',
    amsgrad ? 'let vMaxNew = max(vMax[i], vNew);' : '',
    `let denom = sqrt(${amsgrad ? 'vMaxNew' : 'vNew'}) / s.bc2Sqrt + s.eps;`,
    'let paramNew = theta + (s.negStepSize * mNew) / denom;',
  ].join('\n  ');
  const param = dispatch(backend, t.param.shape, {
    inputs: inputsOf(t),
    slots,
    scalars: Object.entries(p.uniforms),
    body,
  });
  return [param];
}

/** SGD family in one dispatch: returns [param] (new); buf changes in place. */
export function sgdUpdateWebGPU(
  backend: WebGPUBackend,
  t: Named & { buf?: tf.TensorInfo },
  p: SgdParts,
): tf.TensorInfo[] {
  const grad = gradientCode(p, t.control !== undefined);
  const scalars = Object.entries(p.uniforms);
  if (!p.momentum || !t.buf) {
    const param = dispatch(backend, t.param.shape, {
      inputs: inputsOf(t),
      slots: [],
      scalars,
      body: `${grad}\n  let paramNew = theta + s.negLr * g;`,
    });
    return [param];
  }
  const body = [
    grad,
    p.firstStep ? 'let bufNew = g;' : 'let bufNew = buf[i] * s.momentum + s.oneMinusDampening * g;',
    `let paramNew = theta + s.negLr * (${p.nesterov ? 'g + s.momentum * bufNew' : 'bufNew'});`,
  ].join('\n  ');
  const param = dispatch(backend, t.param.shape, {
    inputs: inputsOf(t),
    slots: [['buf', t.buf]],
    scalars,
    body,
  });
  return [param];
}
