/**
 * nodeFileSystem (decoupled/tfjs, Node entry): save with the optimizer to disk, load, continue =
 * one uninterrupted fit, bit for bit, on the cpu and wasm backends; the files are the
 * model.json + weights.bin layout that tfjs's own HTTP loader (the converter's format, which
 * tfjs-node's file:// shares) reads back; multi-shard manifests load; bad input and mismatched files
 * give errors that name them. Imported by package name, so the `node` export condition is tested too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdamW, type DecoupledOptimizer, nodeFileSystem } from 'decoupled/tfjs';
import { warmRestarts } from '#decoupled/core/schedules.js';
import { prng, randomArray, useBackend } from '../tfjs/helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'decoupled-node-io-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(scratch, `model-${dirs++}`);

function makeModel(): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [6],
        units: 8,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.batchNormalization(),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  model.compile({
    optimizer: new AdamW({
      lr: 0.05,
      weightDecay: 0.1,
      amsgrad: true,
      schedule: warmRestarts({ t0: 4, tMult: 2 }),
    }),
    loss: 'categoricalCrossentropy',
  });
  return model;
}

function toyData() {
  const rand = prng(11);
  const x = tf.tensor2d(randomArray(rand, 48 * 6), [48, 6]);
  const labels = Array.from({ length: 48 }, () => Math.floor(rand() * 3));
  const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'float32');
  return { x, y };
}

/** Every weight's float32 bits, model then non-trainable statistics, in model order. */
const bitsOf = (model: tfl.LayersModel) =>
  model.getWeights().map((w) => Array.from(new Uint32Array(w.dataSync().slice().buffer)));

const FIT = { batchSize: 16, epochs: 2, shuffle: false, verbose: 0 } as const;

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`nodeFileSystem on ${backend}`, () => {
    test('save with includeOptimizer, load, continue == one uninterrupted fit, bit for bit', async () => {
      await useBackend(backend);
      const { x, y } = toyData();
      const dir = freshDir();
      const model = makeModel();
      await model.fit(x, y, FIT);
      const saved = bitsOf(model);
      const result = await model.save(nodeFileSystem(dir), { includeOptimizer: true });
      assert.equal(result.modelArtifactsInfo.modelTopologyType, 'JSON');
      await model.fit(x, y, FIT);
      const uninterrupted = bitsOf(model);

      const loaded = await tfl.loadLayersModel(nodeFileSystem(dir));
      const opt = loaded.optimizer as DecoupledOptimizer;
      assert.ok(opt instanceof AdamW, `loaded optimizer is ${opt?.getClassName()}`);
      assert.equal(opt.iterations, 6);
      assert.deepEqual(bitsOf(loaded), saved);
      await loaded.fit(x, y, FIT);
      assert.notDeepEqual(bitsOf(loaded), saved);
      assert.deepEqual(bitsOf(loaded), uninterrupted);
      assert.equal(opt.iterations, 12);
      tf.dispose([x, y]);
      model.dispose();
      loaded.dispose();
    });
  });
}

describe('nodeFileSystem files', () => {
  test('model.json + weights.bin, read back by tfjs own HTTP loader; no temp files left', async () => {
    await useBackend('cpu');
    const dir = freshDir();
    const model = makeModel();
    const { x, y } = toyData();
    await model.fit(x, y, FIT);
    await model.save(nodeFileSystem(dir), { includeOptimizer: true });
    // Saving again replaces both files in place.
    await model.save(nodeFileSystem(dir), { includeOptimizer: true });
    assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin']);

    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    assert.equal(json.weightsManifest.length, 1);
    assert.equal(json.trainingConfig.optimizer_config.class_name, 'decoupled.AdamW');
    const specs = json.weightsManifest[0].weights as { name: string; shape: number[] }[];
    const floats = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(readFileSync(join(dir, 'weights.bin')).byteLength, 4 * floats);
    // The optimizer's iteration count and slots (m, v, vMax per trainable variable) follow the
    // model's weights.
    const names = specs.map((s) => s.name);
    const trainable = model.trainableWeights.map((w) => w.originalName);
    assert.deepEqual(names.slice(0, model.weights.length + 1), [
      ...model.weights.map((w) => w.originalName),
      'iter',
    ]);
    assert.deepEqual(
      names.slice(model.weights.length + 1),
      trainable.flatMap((n) => [`${n}/exp_avg`, `${n}/exp_avg_sq`, `${n}/max_exp_avg_sq`]),
    );

    const server = createServer((req, res) => {
      res.end(readFileSync(join(dir, (req.url ?? '/').slice(1))));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const { port } = server.address() as AddressInfo;
      const viaHttp = await tfl.loadLayersModel(`http://127.0.0.1:${port}/model.json`);
      const viaFs = await tfl.loadLayersModel(nodeFileSystem(dir));
      assert.deepEqual(bitsOf(viaHttp), bitsOf(model));
      assert.deepEqual(bitsOf(viaFs), bitsOf(model));
      assert.equal(viaHttp.optimizer.getClassName(), 'decoupled.AdamW');
      viaHttp.dispose();
      viaFs.dispose();
    } finally {
      server.close();
    }
    model.dispose();
    tf.dispose([x, y]);
  });

  test('a manifest over several weight files (tfjs-converter shards) loads', async () => {
    await useBackend('cpu');
    const dir = freshDir();
    const model = makeModel();
    await model.save(nodeFileSystem(dir));
    const bin = readFileSync(join(dir, 'weights.bin'));
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const cut = 40;
    writeFileSync(join(dir, 'group1-shard1of2.bin'), bin.subarray(0, cut));
    writeFileSync(join(dir, 'group1-shard2of2.bin'), bin.subarray(cut));
    rmSync(join(dir, 'weights.bin'));
    json.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    const loaded = await tfl.loadLayersModel(nodeFileSystem(dir));
    assert.deepEqual(bitsOf(loaded), bitsOf(model));
    model.dispose();
    loaded.dispose();
  });

  test('errors name the directory, the file or the option', async () => {
    assert.throws(() => nodeFileSystem(''), /nodeFileSystem: dir must be a directory path/);
    assert.throws(() => nodeFileSystem('file:///tmp/m'), /without 'file:\/\/'.*file:\/\/\/tmp\/m/);
    const missing = freshDir();
    await assert.rejects(
      tfl.loadLayersModel(nodeFileSystem(missing)),
      new RegExp(`model file ${join(missing, 'model.json')} does not exist`),
    );
    const dir = freshDir();
    const model = makeModel();
    await model.save(nodeFileSystem(dir));
    writeFileSync(join(dir, 'weights.bin'), Buffer.alloc(12));
    await assert.rejects(
      tfl.loadLayersModel(nodeFileSystem(dir)),
      /holds 12 bytes of weights but model.json describes \d+; the files do not belong together/,
    );
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x');
    await assert.rejects(model.save(nodeFileSystem(file)), /a-file exists and is not a directory/);
    model.dispose();
  });
});
