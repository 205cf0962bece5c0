/**
 * Kernel threads on Web Workers (browsers, Deno): the same protocol as ./threads-node.ts. Needs a
 * shared WebAssembly memory, i.e. a cross-origin-isolated page. The workers are started from a Blob
 * URL holding the source below, so nothing has to be served next to the bundle. A window's main
 * thread may not block in Atomics.wait, so the caller spins on the completion counter (a step is
 * threaded only when it takes long enough for that to be cheap).
 */
import { type KernelThreadPool, sharedMemoryPool } from './threads.js';

const WORKER_SOURCE = `
let done;
const instances = new Map();
onmessage = (e) => {
  const msg = e.data;
  if (msg.type === 'init') {
    done = new Int32Array(msg.done);
    postMessage('ready');
    return;
  }
  if (msg.type === 'release') {
    instances.delete(msg.id);
    return;
  }
  if (msg.type === 'memory') {
    instances.set(msg.id, new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } }).exports);
    return;
  }
  try {
    instances.get(msg.id)[msg.fn](...msg.args);
  } catch (err) {
    Atomics.store(done, 1, 1);
  }
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
};
`;

/** True where Web Workers with shared memory can run the kernels. */
export function webThreadsSupported(): boolean {
  const g = globalThis as { Worker?: unknown; crossOriginIsolated?: boolean; Blob?: unknown };
  return (
    typeof g.Worker === 'function' && typeof g.Blob === 'function' && g.crossOriginIsolated === true
  );
}

/** Logical cores reported by the browser (1 if unknown). */
export function webCores(): number {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return Math.max(1, nav?.hardwareConcurrency ?? 1);
}

/** Starts `workers` Web Workers (resolves once all are ready). */
export async function startWebPool(
  workers: number,
  timeoutMs = 120_000,
): Promise<KernelThreadPool> {
  const done = new Int32Array(new SharedArrayBuffer(8));
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const list = Array.from({ length: workers }, () => new Worker(url));
  URL.revokeObjectURL(url);
  await Promise.all(
    list.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.onmessage = () => resolve();
          w.onerror = (e) => reject(new Error(`kernel worker failed to start: ${e.message}`));
          w.postMessage({ type: 'init', done: done.buffer });
        }),
    ),
  );
  // The page's main thread may not Atomics.wait: spin on the counter instead.
  return sharedMemoryPool(
    list,
    done,
    timeoutMs,
    () => {},
    async () => {
      for (const w of list) w.terminate();
    },
  );
}
