/**
 * The app that test/packaging/tfjs-peer.test.ts runs in a temp directory where `decoupled` is the
 * packed package and tfjs is the app's own (4.20): it trains a small model with decoupled/tfjs's
 * AdamW, saves it with the optimizer through nodeFileSystem, trains on (the uninterrupted run),
 * loads the saved model and trains it the same way, then prints one JSON line (TfjsAppReport).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';
import type * as TfLayers from '@tensorflow/tfjs-layers';
import type * as Adapter from 'decoupled/tfjs';

// Collect warnings before tfjs loads: a second tfjs-core warns while it is imported.
const warnings: string[] = [];
console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(' '));
const tf: typeof TfCore = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
const tfl: typeof TfLayers = await import('@tensorflow/tfjs-layers');
const { AdamW, nodeFileSystem }: typeof Adapter = await import('decoupled/tfjs');

export interface TfjsAppReport {
  /** tfjs-core's version as the app sees it. */
  tfjsCore: string;
  /**
   * True if 'decoupled.AdamW' is registered in the app's tfjs serialization map (per tfjs-core
   * copy; kernels and `instanceof tf.Optimizer` are shared across copies, so they prove nothing).
   */
  registeredInAppTfjs: boolean;
  /** What tfjs printed with console.warn (a second tfjs says 'Platform node has already been set'). */
  warnings: string[];
  /** The loaded model's optimizer class, its step count, and whether resuming matched bit for bit. */
  loadedOptimizer?: string;
  loadedIterations?: number;
  resumedBitIdentical?: boolean;
  error?: string;
}

function makeModel(): TfLayers.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [4],
        units: 6,
        activation: 'relu',
        kernelInitializer: 'ones',
      }),
      tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: 'ones' }),
    ],
  });
  model.compile({ optimizer: new AdamW({ lr: 0.01, weightDecay: 0.1 }), loss: 'meanSquaredError' });
  return model;
}

const bits = (model: TfLayers.LayersModel) =>
  model.getWeights().map((w) => Array.from(new Uint32Array(w.dataSync().slice().buffer)));

async function main(report: TfjsAppReport): Promise<void> {
  await tf.setBackend('cpu');
  const x = tf.tensor2d(
    Array.from({ length: 32 }, (_, i) => Math.sin(i)),
    [8, 4],
  );
  const y = tf.tensor2d(
    Array.from({ length: 16 }, (_, i) => i % 2),
    [8, 2],
  );
  const fit = { batchSize: 4, epochs: 2, shuffle: false, verbose: 0 } as const;
  const dir = mkdtempSync(join(tmpdir(), 'decoupled-tfjs-app-'));
  try {
    const model = makeModel();
    await model.fit(x, y, fit);
    await model.save(nodeFileSystem(dir), { includeOptimizer: true });
    await model.fit(x, y, fit);
    const loaded = await tfl.loadLayersModel(nodeFileSystem(dir));
    report.loadedOptimizer = loaded.optimizer.getClassName();
    report.loadedIterations = (loaded.optimizer as Adapter.AdamW).iterations;
    await loaded.fit(x, y, fit);
    report.resumedBitIdentical = JSON.stringify(bits(loaded)) === JSON.stringify(bits(model));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const report: TfjsAppReport = {
  tfjsCore: tf.version_core,
  registeredInAppTfjs: 'decoupled.AdamW' in tf.serialization.SerializationMap.getMap().classNameMap,
  warnings,
};
try {
  await main(report);
} catch (error) {
  report.error = String((error as Error)?.message ?? error);
}
process.stdout.write(`${JSON.stringify(report)}\n`);
