/**
 * Kernel threads on Web Workers (browsers, Deno): the same protocol (WORKER_PROTOCOL of
 * ./threads.ts) as ./threads-node-workers.ts. Needs a
 * shared WebAssembly memory, i.e. a cross-origin-isolated page. The workers are started from a Blob
 * URL holding the source below, so nothing has to be served next to the bundle. A window's main
 * thread may not block in Atomics.wait, so the caller spins on the finished count (a step is
 * threaded only when it takes long enough for that to be cheap).
 */
import {
  CONTROL_INTS,
  type KernelThreadPool,
  sharedMemoryPool,
  WORKER_PROTOCOL,
} from './threads.js';

const WORKER_SOURCE = `
let control;
${WORKER_PROTOCOL}
onmessage = (e) => {
  if (e.data.type === 'init') {
    control = new Int32Array(e.data.control);
    postMessage('ready');
  } else {
    onKernelMessage(e.data, control);
  }
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
  const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_INTS));
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const list = Array.from({ length: workers }, () => new Worker(url));
  URL.revokeObjectURL(url);
  await Promise.all(
    list.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.onmessage = () => resolve();
          w.onerror = (e) => reject(new Error(`kernel worker failed to start: ${e.message}`));
          w.postMessage({ type: 'init', control: control.buffer });
        }),
    ),
  );
  // The page's main thread may not Atomics.wait: spin on the counter instead.
  return sharedMemoryPool(
    list,
    control,
    timeoutMs,
    () => {},
    async () => {
      for (const w of list) w.terminate();
    },
  );
}
