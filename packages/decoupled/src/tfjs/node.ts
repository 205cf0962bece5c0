/**
 * `decoupled/tfjs` on Node (the `node` condition of the package's exports): everything of the
 * runtime-neutral entry (./index.ts) plus `nodeFileSystem`, the model save/load handler on node:fs,
 * and `initWasmBackendThreaded`, tfjs-backend-wasm's threaded build in Node (worker_threads).
 * Browser bundles resolve the default condition, ./index.ts, and never see node:fs.
 */
export * from './index.js';
export { type NodeFileSystemHandler, nodeFileSystem } from './node-io.js';
export { initWasmBackendThreaded } from './training-kernels/threads-node.js';
