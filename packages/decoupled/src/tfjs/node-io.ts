/**
 * `nodeFileSystem(dir)`: a tf.io.IOHandler on node:fs, for saving and loading tfjs models in Node
 * without tfjs-node. It uses the layout of tfjs-node's `file://` handler, so either can read what
 * the other wrote:
 *
 *   dir/model.json   the ModelJSON: modelTopology, format, generatedBy, convertedBy, and where
 *                    present trainingConfig, signature, userDefinedMetadata, modelInitializer,
 *                    initializerSignature; weightsManifest = [{ paths: ['weights.bin'], weights }]
 *   dir/weights.bin  every weight's bytes back to back, in the order of `weights` (with
 *                    `includeOptimizer: true` the optimizer's slots and iteration count follow
 *                    the model's weights)
 *
 * Each file is replaced atomically: written to a temp file in `dir`, fsynced, renamed over the old
 * one, then the directory is fsynced. weights.bin is replaced before model.json, so a reader never
 * sees a model.json whose weights are incomplete; loading checks that weights.bin holds exactly the
 * bytes the manifest describes. Node-only: exported from the `node` condition of `decoupled/tfjs`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { OptionError } from '../core/errors.js';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
const WHERE = 'nodeFileSystem';

/** ModelArtifacts fields copied to model.json as they are when present. */
const OPTIONAL_FIELDS = [
  'trainingConfig',
  'signature',
  'userDefinedMetadata',
  'modelInitializer',
  'initializerSignature',
] as const;

/** Bytes per element of the dtypes whose size the manifest fixes. */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** The handler: `save` for model.save(handler), `load` for tf.loadLayersModel(handler). */
export interface NodeFileSystemHandler extends tf.io.IOHandler {
  /** The absolute directory holding model.json and weights.bin. */
  readonly dir: string;
  save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult>;
  load(): Promise<tf.io.ModelArtifacts>;
}

/**
 * A save and load handler for `dir` (created on save if missing). Save with
 * `model.save(nodeFileSystem(dir), { includeOptimizer: true })`, resume with
 * `tf.loadLayersModel(nodeFileSystem(dir))`.
 */
export function nodeFileSystem(dir: string): NodeFileSystemHandler {
  if (typeof dir !== 'string' || dir === '') {
    throw new OptionError('dir', dir, 'a directory path (a non-empty string)', WHERE);
  }
  if (dir.startsWith('file://')) {
    throw new OptionError('dir', dir, "a plain directory path, without 'file://'", WHERE);
  }
  const root = resolve(dir);
  return {
    dir: root,
    save: (artifacts) => saveArtifacts(root, artifacts),
    load: () => loadArtifacts(root),
  };
}

async function saveArtifacts(
  dir: string,
  artifacts: tf.io.ModelArtifacts,
): Promise<tf.io.SaveResult> {
  const topology = artifacts.modelTopology;
  if (topology == null || topology instanceof ArrayBuffer) {
    const got = topology == null ? 'none' : 'a binary (GraphDef) one';
    throw new Error(`${WHERE}: only a JSON model topology can be saved; got ${got}`);
  }
  await mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EEXIST' || error.code === 'ENOTDIR'
      ? new Error(`${WHERE}: ${dir} exists and is not a directory`)
      : error;
  });
  const modelJSON: tf.io.ModelJSON = {
    modelTopology: topology,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
  };
  for (const field of OPTIONAL_FIELDS) {
    if (artifacts[field] != null) Object.assign(modelJSON, { [field]: artifacts[field] });
  }
  const weights = artifacts.weightData
    ? new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData))
    : new Uint8Array(0);
  await writeAtomic(join(dir, WEIGHTS_BIN), weights);
  await writeAtomic(join(dir, MODEL_JSON), JSON.stringify(modelJSON));
  return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
}

async function loadArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = join(dir, MODEL_JSON);
  const modelJSON = JSON.parse(await readOrExplain(jsonPath, 'model file').then(String));
  return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
    const buffers: Uint8Array[] = [];
    for (const group of manifest) {
      for (const path of group.paths) {
        buffers.push(await readOrExplain(join(dir, path), 'weights file'));
      }
    }
    const specs = tf.io.getWeightSpecs(manifest);
    const bytes = concat(buffers);
    const expected = expectedBytes(specs);
    if (expected !== null && expected !== bytes.byteLength) {
      throw new Error(
        `${WHERE}: ${dir} holds ${bytes.byteLength} bytes of weights but ${MODEL_JSON} ` +
          `describes ${expected}; the files do not belong together`,
      );
    }
    return [specs, bytes.buffer as ArrayBuffer];
  });
}

/** The byte length the specs describe, or null where a dtype's size varies (strings, quantized). */
function expectedBytes(specs: tf.io.WeightsManifestEntry[]): number | null {
  let total = 0;
  for (const spec of specs) {
    const size = DTYPE_BYTES[spec.dtype];
    if (size === undefined || spec.quantization) return null;
    total += size * spec.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

async function readOrExplain(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${WHERE}: ${what} ${path} does not exist`);
    }
    throw error;
  }
}

/**
 * Replaces `path` atomically: temp file beside it, fsync, rename, fsync of the directory. (The
 * harness's writeFileAtomic does the same synchronously; this layer may not import the harness.)
 */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  try {
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  const dir = await open(join(path, '..'), 'r');
  try {
    await dir.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await dir.close();
  }
}
