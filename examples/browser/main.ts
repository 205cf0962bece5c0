/**
 * The browser example's page: trains a small CNN on a Fashion-MNIST sample with decoupled/tfjs'
 * AdamW and a cosine schedule on the WebGL backend, and draws the training loss, batch by batch,
 * on a canvas as it trains. In your own code the imports are 'decoupled/tfjs' and 'decoupled'.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import * as tfl from '@tensorflow/tfjs-layers';
import { cosine } from 'decoupled';
import { AdamW } from 'decoupled/tfjs';

const EPOCHS = 3;
const BATCH = 32;

interface Header {
  count: number;
  height: number;
  width: number;
  classes: number;
}

/** What the page exposes for its test: the losses so far and whether training finished. */
const state = { backend: '', losses: [] as number[], done: false, error: '' };
(globalThis as unknown as { __example: typeof state }).__example = state;

async function loadSample() {
  const header = (await (await fetch('/sample.json')).json()) as Header;
  const images = new Uint8Array(await (await fetch('/images.bin')).arrayBuffer());
  const labels = new Uint8Array(await (await fetch('/labels.bin')).arrayBuffer());
  const x = tf.tidy(() =>
    tf.div(tf.tensor4d(images, [header.count, header.height, header.width, 1], 'float32'), 255),
  );
  const y = tf.tidy(() =>
    tf.cast(tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), header.classes), 'float32'),
  );
  return { header, x, y };
}

function cnn(header: Header): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [header.height, header.width, 1],
        filters: 8,
        kernelSize: 3,
        activation: 'relu',
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: header.classes, activation: 'softmax' }),
    ],
  });
}

/** The loss curve: batches on x, loss on y (0 to the first loss), redrawn after every batch. */
function draw(canvas: HTMLCanvasElement, losses: number[], totalSteps: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx || losses.length === 0) return;
  const { width, height } = canvas;
  const top = Math.max(...losses);
  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = '#888';
  ctx.strokeRect(0.5, 0.5, width - 1, height - 1);
  ctx.strokeStyle = '#1f77b4';
  ctx.lineWidth = 2;
  ctx.beginPath();
  losses.forEach((loss, i) => {
    const px = (i / Math.max(1, totalSteps - 1)) * (width - 20) + 10;
    const py = height - 10 - (loss / top) * (height - 20);
    if (i === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
  });
  ctx.stroke();
  ctx.fillStyle = '#000';
  ctx.fillText(`loss ${losses[losses.length - 1].toFixed(3)} (batch ${losses.length})`, 14, 18);
}

async function main(): Promise<void> {
  if (!(await tf.setBackend('webgl'))) throw new Error('WebGL is not available in this browser');
  state.backend = tf.getBackend();
  const status = document.getElementById('status') as HTMLElement;
  const canvas = document.getElementById('loss') as HTMLCanvasElement;
  const { header, x, y } = await loadSample();
  const model = cnn(header);
  const totalSteps = EPOCHS * Math.ceil(header.count / BATCH);
  model.compile({
    optimizer: new AdamW({
      lr: 5e-3,
      weightDecay: 0.05,
      schedule: cosine({ total: totalSteps }),
      // In the browser: no per-step readback, and a NaN batch is skipped (docs/tfjs.md).
      nonFinite: 'skip',
    }),
    loss: 'categoricalCrossentropy',
  });
  status.textContent = `training on ${header.count} Fashion-MNIST images with ${state.backend}`;
  await model.fit(x, y, {
    batchSize: BATCH,
    epochs: EPOCHS,
    shuffle: true,
    callbacks: {
      onBatchEnd: async (_batch, logs) => {
        state.losses.push(Number(logs?.loss));
        draw(canvas, state.losses, totalSteps);
        await tf.nextFrame();
      },
    },
  });
  status.textContent = `done: ${state.losses.length} batches on ${state.backend}`;
  state.done = true;
}

main().catch((error: unknown) => {
  state.error = String((error as Error)?.stack ?? error);
  const status = document.getElementById('status');
  if (status) status.textContent = `error: ${state.error}`;
});
