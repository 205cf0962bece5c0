/**
 * Optimizer state as plain data, and its two encodings.
 *
 * JSON: `stateDictToJSON` / `stateDictFromJSON`, slot arrays as number lists (float32 values are
 * exact doubles, so the round trip is exact). JSON has no NaN, Infinity or -0, which a slot can
 * hold (Adam's v overflows for gradients near 1e19), so those entries are the strings "NaN",
 * "Infinity", "-Infinity" and "-0".
 *
 * Binary (`encodeStateDict` / `decodeStateDict`), little-endian:
 *   bytes 0..7   magic "DCPLOPT1"
 *   bytes 8..11  uint32 n = length of the UTF-8 JSON header
 *   bytes 12..   the header: the state dict with every slot array replaced by
 *                { "offset": k, "length": len } (k in float32 elements), or null
 *   then zero padding to a multiple of 4 bytes, then the float32 payload.
 */
import { OptionError } from './errors.js';
import type { CoreOptimizerKind, OptimizerKind, ScheduleConfigLike } from './types.js';

export type { OptimizerKind };

/** Hyperparameters of one group as saved; functions are saved as null (they cannot be data). */
export interface SavedGroupHyper {
  lr: number;
  weightDecay: number | null;
  maximize: boolean;
  schedule: ScheduleConfigLike | null;
  decayScale?: 'lr' | 'schedule';
  betas?: [number, number];
  eps?: number;
  amsgrad?: boolean;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  warmupSteps?: number;
  r?: number;
  weightLrPower?: number;
  cautiousDecay?: boolean;
}

export interface OptimizerStateDict {
  format: 'decoupled.optimizer';
  version: 1;
  optimizer: CoreOptimizerKind;
  /** Steps taken; the next step's 0-based schedule index. */
  stepCount: number;
  /** Steps skipped for non-finite gradients (nonFinite: 'skip'). */
  skippedSteps: number;
  /** Length of every parameter, in the flattened order of the groups. */
  paramLengths: number[];
  groups: { paramCount: number; hyper: SavedGroupHyper }[];
  /** Slot name (PyTorch's: exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer) to per-param arrays. */
  slots: Record<string, (Float32Array | null)[]>;
  /**
   * Scalar state beyond the step count, by feature (EMA, accumulation, schedule-free; written and
   * checked by src/core/optimizer.ts and its subclasses). Absent when no feature has any.
   */
  extra?: Record<string, ExtraStateValue>;
}

/** A value of `OptimizerStateDict.extra`: plain JSON data (finite numbers). */
export type ExtraStateValue = number | boolean | string | number[];

const MAGIC = 'DCPLOPT1';

type JsonNumber = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';
type JsonSlots = Record<string, (JsonNumber[] | null)[]>;

function toJsonNumber(x: number): JsonNumber {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  return Object.is(x, -0) ? '-0' : x;
}

const SPECIAL: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
  '-0': -0,
};

function fromJsonNumbers(list: unknown, path: string): Float32Array {
  if (!Array.isArray(list)) throw new OptionError(path, list, 'an array of numbers');
  const out = new Float32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const x = list[i];
    if (typeof x === 'number') out[i] = x;
    else if (typeof x === 'string' && x in SPECIAL) out[i] = SPECIAL[x];
    else {
      throw new OptionError(
        `${path}[${i}]`,
        x,
        'a number or one of "NaN", "Infinity", "-Infinity", "-0"',
      );
    }
  }
  return out;
}

export function stateDictToJSON(state: OptimizerStateDict): string {
  const slots: JsonSlots = {};
  for (const [name, arrays] of Object.entries(state.slots)) {
    slots[name] = arrays.map((a) => (a ? Array.from(a, toJsonNumber) : null));
  }
  return JSON.stringify({ ...state, slots });
}

export function stateDictFromJSON(text: string): OptimizerStateDict {
  const parsed = JSON.parse(text) as Omit<OptimizerStateDict, 'slots'> & { slots: JsonSlots };
  checkHeader(parsed);
  const slots: OptimizerStateDict['slots'] = {};
  for (const [name, arrays] of Object.entries(parsed.slots ?? {})) {
    if (!Array.isArray(arrays)) throw new OptionError(`slots.${name}`, arrays, 'an array');
    slots[name] = arrays.map((a, i) => (a ? fromJsonNumbers(a, `slots.${name}[${i}]`) : null));
  }
  return { ...parsed, slots };
}

export function encodeStateDict(state: OptimizerStateDict): Uint8Array {
  let total = 0;
  const slots: Record<string, ({ offset: number; length: number } | null)[]> = {};
  for (const [name, arrays] of Object.entries(state.slots)) {
    slots[name] = arrays.map((a) => {
      if (!a) return null;
      const ref = { offset: total, length: a.length };
      total += a.length;
      return ref;
    });
  }
  const header = new TextEncoder().encode(JSON.stringify({ ...state, slots }));
  const payloadStart = align4(12 + header.length);
  const bytes = new Uint8Array(payloadStart + total * 4);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(8, header.length, true);
  bytes.set(header, 12);
  const view = new DataView(bytes.buffer, payloadStart);
  let k = 0;
  for (const arrays of Object.values(state.slots)) {
    for (const a of arrays) {
      if (!a) continue;
      for (let i = 0; i < a.length; i++, k++) view.setFloat32(k * 4, a[i], true);
    }
  }
  return bytes;
}

export function decodeStateDict(bytes: Uint8Array): OptimizerStateDict {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new OptionError('state', `${bytes.length} bytes`, `bytes starting with "${MAGIC}"`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = dv.getUint32(8, true);
  if (12 + headerLength > bytes.length) {
    throw new OptionError('state', `${bytes.length} bytes`, 'a complete encoded state (truncated)');
  }
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  checkHeader(header);
  const payloadStart = align4(12 + headerLength);
  const slots: OptimizerStateDict['slots'] = {};
  for (const [name, refs] of Object.entries(
    header.slots as Record<string, ({ offset: number; length: number } | null)[]>,
  )) {
    slots[name] = refs.map((ref) => {
      if (!ref) return null;
      const end = payloadStart + (ref.offset + ref.length) * 4;
      if (end > bytes.length) {
        throw new OptionError(
          'state',
          `${bytes.length} bytes`,
          'a complete encoded state (truncated)',
        );
      }
      const out = new Float32Array(ref.length);
      for (let i = 0; i < ref.length; i++) {
        out[i] = dv.getFloat32(payloadStart + (ref.offset + i) * 4, true);
      }
      return out;
    });
  }
  return { ...header, slots };
}

function checkHeader(value: { format?: unknown; version?: unknown }): void {
  if (value?.format !== 'decoupled.optimizer') {
    throw new OptionError('state.format', value?.format, '"decoupled.optimizer"');
  }
  if (value.version !== 1) throw new OptionError('state.version', value.version, '1');
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
