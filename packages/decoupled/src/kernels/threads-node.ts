/**
 * The Node side of kernel threads as initKernels (./index.ts) reaches it, on Node only. The
 * package import `#kernel-threads-node` (package.json `imports`) resolves under the `node`
 * condition to ./threads-node-workers.ts (node:os, node:worker_threads) and under any other
 * (browser bundles from esbuild, Vite or webpack) to ./threads-node-absent.ts, so no bundler ever
 * meets a Node built-in here and none needs `external: ['node:*']`.
 */
export { availableCores, startNodePool } from '#kernel-threads-node';
