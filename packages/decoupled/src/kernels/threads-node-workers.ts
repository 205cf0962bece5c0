/**
 * Kernel threads on Node's worker_threads: the only module of the kernels layer that uses a
 * Node-only API. It is reached solely through the package import `#kernel-threads-node` under the
 * `node` condition (./threads-node.ts), so a browser bundle never contains it. Each worker
 * speaks WORKER_PROTOCOL (./threads.ts): it instantiates the module posted with every attached
 * shared memory and claims chunks of the calls it is posted; completion is counted with Atomics in
 * a small SharedArrayBuffer, on which the caller blocks (Atomics.wait is allowed on Node's main
 * thread).
 */
import {
  CONTROL_INTS,
  isNode,
  type KernelThreadPool,
  sharedMemoryPool,
  WORKER_PROTOCOL,
} from './threads.js';

// CommonJS source run with `eval: true`, so no file has to be located next to the bundle.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const control = new Int32Array(workerData.control);
${WORKER_PROTOCOL}
parentPort.on('message', (msg) => onKernelMessage(msg, control));
parentPort.postMessage('ready');
`;

/** Cores available to this process on Node, 1 elsewhere. */
export async function availableCores(): Promise<number> {
  if (!isNode()) return 1;
  const os = await import('node:os');
  return typeof os.availableParallelism === 'function'
    ? os.availableParallelism()
    : os.cpus().length;
}

/**
 * Starts `workers` worker threads (resolves once all are ready). They never keep the process
 * alive: an idle pool lets Node exit.
 */
export async function startNodePool(
  workers: number,
  timeoutMs = 120_000,
): Promise<KernelThreadPool> {
  const { Worker } = await import('node:worker_threads');
  const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_INTS));
  const list = Array.from(
    { length: workers },
    () => new Worker(WORKER_SOURCE, { eval: true, workerData: { control: control.buffer } }),
  );
  await Promise.all(
    list.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
    ),
  );
  for (const w of list) w.unref();
  return sharedMemoryPool(
    list,
    control,
    timeoutMs,
    (counter, count) => Atomics.wait(counter, 0, count, 1000),
    async () => {
      await Promise.all(list.map((w) => w.terminate()));
    },
  );
}
