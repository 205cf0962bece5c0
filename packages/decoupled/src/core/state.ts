/**
 * Optimizer state as plain data, its validator, and its two encodings.
 *
 * `validateStateDict` checks a whole state before any of it is used: its structure, the group
 * count against paramLengths, every group's hyperparameters (present, of the right types) and
 * every slot array's length. Ranges of hyperparameters are the optimizer's own checks
 * (loadStateDict); this is the part that does not depend on which optimizer loads the state.
 *
 * JSON: `stateDictToJSON` / `stateDictFromJSON`, slot arrays as number lists (float32 values are
 * exact doubles, so the round trip is exact; a number that is not a float32 value is refused). JSON has no NaN, Infinity or -0, which a slot can
 * hold (Adam's v overflows for gradients near 1e19), so those entries are the strings "NaN",
 * "Infinity", "-Infinity" and "-0". The last field, "crc32c", is the CRC-32C (./crc32c.ts, 8 hex
 * digits) of the UTF-8 text of the same JSON without that field; the text must be exactly what
 * stateDictToJSON wrote (no reformatting), so any changed byte is detected. JSON without the field
 * (written before checksums) is still read, with the structural checks only.
 *
 * Binary (`encodeStateDict` / `decodeStateDict`), little-endian, format 2:
 *   bytes 0..7    magic "DCPLOPT2"
 *   bytes 8..11   uint32 CRC-32C of bytes 16 .. 20+n (the header length and the header)
 *   bytes 12..15  uint32 CRC-32C of bytes 20+n .. end (the padding and the payload)
 *   bytes 16..19  uint32 n = length of the UTF-8 JSON header
 *   bytes 20..    the header: the state dict with every slot array replaced by
 *                 { "offset": k, "length": len } (k in float32 elements), or null
 *   then zero padding to a multiple of 4 bytes, then the float32 payload, the slot arrays in
 *   header order, back to back (each offset is the sum of the lengths before it).
 * Both checksums are verified before the header is parsed. Format 1 ("DCPLOPT1": the same without
 * the two checksums, n at bytes 8..11, header from byte 12) is still read, with every structural
 * check but no corruption detection; encodeStateDict(decodeStateDict(old)) converts it.
 */
import { crc32c, crc32cHex } from './crc32c.js';
import { describe, OptionError } from './errors.js';
import {
  type CoreOptimizerKind,
  DECAY_SCALES,
  OPTIMIZER_KINDS,
  type OptimizerKind,
  SCHEDULE_FREE_KINDS,
  type ScheduleConfigLike,
} from './types.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkOneOf } from './validate.js';

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
  /** Schedule-free (./schedule-free.ts). */
  warmupSteps?: number;
  r?: number;
  weightLrPower?: number;
  /** AdamW, SGDW: present (true) only when on. */
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

/** Every field of a state; a Record, so the compiler keeps the list complete and exact. */
const STATE_FIELDS: Record<keyof OptimizerStateDict, true> = {
  format: true,
  version: true,
  optimizer: true,
  stepCount: true,
  skippedSteps: true,
  paramLengths: true,
  groups: true,
  slots: true,
  extra: true,
};
const STATE_KEYS = Object.keys(STATE_FIELDS);

/** The slots the optimizers keep (PyTorch's names); which ones a kind needs is its own check. */
export const SLOT_NAMES = [
  'exp_avg',
  'exp_avg_sq',
  'max_exp_avg_sq',
  'momentum_buffer',
  // schedule-free's base sequence; the base class's ema and accumulate features.
  'z',
  'ema',
  'ema_backup',
  'accumulated_grad',
] as const;

/** Every field of SavedGroupHyper (a Record for the same reason). */
const HYPER_FIELDS: Record<keyof SavedGroupHyper, true> = {
  lr: true,
  weightDecay: true,
  maximize: true,
  schedule: true,
  decayScale: true,
  betas: true,
  eps: true,
  amsgrad: true,
  momentum: true,
  dampening: true,
  nesterov: true,
  warmupSteps: true,
  r: true,
  weightLrPower: true,
  cautiousDecay: true,
};
const HYPER_KEYS = Object.keys(HYPER_FIELDS);

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Checks that `state` is a whole optimizer state, so that nothing reading it afterwards can fail
 * on its shape: format and version, optimizer kind, step counts, paramLengths, groups (at least
 * one; their paramCounts add up to paramLengths' length; each has a hyper object with the saved
 * fields of the right types) and slots (known slot names; one entry per parameter, null
 * or a Float32Array of that parameter's length). Throws an OptionError naming the first problem.
 */
export function validateStateDict(
  state: unknown,
  where = 'state',
): asserts state is OptimizerStateDict {
  if (!isRecord(state) || state.format !== 'decoupled.optimizer' || state.version !== 1) {
    const shown = isRecord(state) ? state.format : state;
    throw new OptionError('state', shown, 'a state from stateDict() (format 1)', where);
  }
  checkKnownKeys(state, STATE_KEYS, where, 'state.');
  checkOneOf(
    'state.optimizer',
    state.optimizer,
    [...OPTIMIZER_KINDS, ...SCHEDULE_FREE_KINDS],
    where,
  );
  checkNumber('state.stepCount', state.stepCount, { min: 0, integer: true }, where);
  checkNumber('state.skippedSteps', state.skippedSteps, { min: 0, integer: true }, where);
  const lengths = state.paramLengths;
  if (!Array.isArray(lengths)) {
    throw new OptionError('state.paramLengths', lengths, 'an array of lengths', where);
  }
  lengths.forEach((n, i) => {
    checkNumber(`state.paramLengths[${i}]`, n, { min: 0, integer: true }, where);
  });
  checkGroups(state.groups, lengths.length, where);
  checkSlots(state.slots, lengths as number[], where);
  if (state.extra !== undefined) checkExtra(state.extra, where);
}

/** `extra`: an object of finite numbers, booleans, strings and arrays of finite numbers. */
function checkExtra(extra: unknown, where: string): void {
  const allowed = 'a finite number, a boolean, a string or an array of finite numbers';
  if (!isRecord(extra)) throw new OptionError('state.extra', extra, 'an object', where);
  for (const [key, value] of Object.entries(extra)) {
    const ok =
      typeof value === 'boolean' ||
      typeof value === 'string' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      (Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x)));
    if (!ok) throw new OptionError(`state.extra["${key}"]`, value, allowed, where);
  }
}

function checkGroups(groups: unknown, paramCount: number, where: string): void {
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new OptionError('state.groups', groups, 'a non-empty array of groups', where);
  }
  let counted = 0;
  groups.forEach((group, i) => {
    const path = `state.groups[${i}]`;
    if (!isRecord(group))
      throw new OptionError(path, group, 'a { paramCount, hyper } object', where);
    counted += checkNumber(
      `${path}.paramCount`,
      group.paramCount,
      { min: 0, integer: true },
      where,
    );
    checkHyper(group.hyper, `${path}.hyper`, where);
  });
  if (counted !== paramCount) {
    throw new OptionError(
      'state.groups',
      groups,
      `groups whose paramCounts add up to ${paramCount} (the length of paramLengths); they add up to ${counted}`,
      where,
    );
  }
}

/** Types of the saved hyperparameters (their ranges are checked by the optimizer that loads them). */
function checkHyper(hyper: unknown, path: string, where: string): void {
  if (!isRecord(hyper)) {
    throw new OptionError(path, hyper, 'the saved hyperparameters of the group (an object)', where);
  }
  checkKnownKeys(hyper, HYPER_KEYS, where, `${path}.`);
  checkNumber(`${path}.lr`, hyper.lr, {}, where);
  if (hyper.weightDecay !== null) checkNumber(`${path}.weightDecay`, hyper.weightDecay, {}, where);
  checkBoolean(`${path}.maximize`, hyper.maximize, where);
  if (hyper.schedule !== null && !isRecord(hyper.schedule)) {
    throw new OptionError(`${path}.schedule`, hyper.schedule, 'a schedule config or null', where);
  }
  if (hyper.decayScale !== undefined) {
    checkOneOf(`${path}.decayScale`, hyper.decayScale, DECAY_SCALES, where);
  }
  if (hyper.betas !== undefined) {
    const b = hyper.betas;
    if (!Array.isArray(b) || b.length !== 2 || b.some((x) => typeof x !== 'number')) {
      throw new OptionError(`${path}.betas`, b, 'a pair of numbers', where);
    }
  }
  for (const key of [
    'eps',
    'momentum',
    'dampening',
    'warmupSteps',
    'r',
    'weightLrPower',
  ] as const) {
    if (hyper[key] !== undefined) checkNumber(`${path}.${key}`, hyper[key], {}, where);
  }
  for (const key of ['amsgrad', 'nesterov', 'cautiousDecay'] as const) {
    if (hyper[key] !== undefined) checkBoolean(`${path}.${key}`, hyper[key], where);
  }
}

function checkSlots(slots: unknown, lengths: number[], where: string): void {
  if (!isRecord(slots)) throw new OptionError('state.slots', slots, 'an object of slots', where);
  checkKnownKeys(slots, SLOT_NAMES, where, 'state.slots.');
  for (const [name, arrays] of Object.entries(slots)) {
    if (!Array.isArray(arrays) || arrays.length !== lengths.length) {
      throw new OptionError(`state.slots.${name}`, arrays, `${lengths.length} entries`, where);
    }
    arrays.forEach((a, i) => {
      if (a !== null && !(a instanceof Float32Array && a.length === lengths[i])) {
        throw new OptionError(
          `state.slots.${name}[${i}]`,
          a,
          `null or a Float32Array of length ${lengths[i]}`,
          where,
        );
      }
    });
  }
}

/** The error for bytes or text that are not an intact encoded state; names the source first. */
function corrupt(source: string, problem: string): OptionError {
  return new OptionError('state', undefined, 'an intact encoded state', source, problem);
}

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

function fromJsonNumbers(list: unknown, path: string, where: string): Float32Array {
  if (!Array.isArray(list)) throw new OptionError(path, list, 'an array of numbers', where);
  const out = new Float32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const x = list[i];
    if (typeof x === 'number' && Math.fround(x) === x) out[i] = x;
    else if (typeof x === 'string' && Object.hasOwn(SPECIAL, x)) out[i] = SPECIAL[x];
    else {
      throw new OptionError(
        `${path}[${i}]`,
        x,
        'a float32 number or one of "NaN", "Infinity", "-Infinity", "-0"',
        where,
      );
    }
  }
  return out;
}

const utf8 = new TextEncoder();
/** Fatal: a byte sequence that is not UTF-8 is an error, not a silent U+FFFD. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The state as JSON text, with a CRC-32C of the text as its last field (see the module doc). */
export function stateDictToJSON(state: OptimizerStateDict): string {
  const slots: JsonSlots = {};
  for (const [name, arrays] of Object.entries(state.slots)) {
    slots[name] = arrays.map((a) => (a ? Array.from(a, toJsonNumber) : null));
  }
  const body = { ...state, slots };
  return JSON.stringify({ ...body, crc32c: crc32cHex(utf8.encode(JSON.stringify(body))) });
}

/**
 * Reads JSON written by stateDictToJSON; `source` (a file name) starts every error message.
 * The checksum is verified before any value is used, then the whole state is validated.
 */
export function stateDictFromJSON(text: string, source = 'state'): OptimizerStateDict {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw corrupt(source, `corrupt optimizer state: not JSON (${(error as Error).message})`);
  }
  if (!isRecord(parsed)) validateStateDict(parsed, source);
  const { crc32c: stored, ...body } = parsed as Record<string, unknown>;
  if (stored !== undefined) {
    const computed = crc32cHex(utf8.encode(JSON.stringify(body)));
    if (stored !== computed) {
      throw corrupt(
        source,
        `corrupt optimizer state: checksum mismatch (crc32c ${describe(stored)} stored, ` +
          `"${computed}" computed)`,
      );
    }
    if (text.trim() !== JSON.stringify({ ...body, crc32c: stored })) {
      throw corrupt(
        source,
        'corrupt optimizer state: the text is not as stateDictToJSON wrote it (reformatted or edited)',
      );
    }
  }
  const slots: Record<string, unknown> = {};
  if (isRecord(body.slots)) {
    for (const [name, arrays] of Object.entries(body.slots)) {
      const path = `state.slots.${name}`;
      if (!Array.isArray(arrays)) throw new OptionError(path, arrays, 'an array', source);
      slots[name] = arrays.map((a, i) =>
        a === null ? null : fromJsonNumbers(a, `${path}[${i}]`, source),
      );
    }
  }
  const state = { ...body, slots: isRecord(body.slots) ? slots : body.slots };
  validateStateDict(state, source);
  return state;
}

const MAGIC = 'DCPLOPT2';
const MAGIC_V1 = 'DCPLOPT1';
/** Header offset in format 2 (magic, two CRCs, length) and format 1 (magic, length). */
const HEADER_START = 20;
const HEADER_START_V1 = 12;

type SlotRef = { offset: number; length: number } | null;

/** The state in the binary format 2 (see the module doc). */
export function encodeStateDict(state: OptimizerStateDict): Uint8Array {
  let total = 0;
  const slots: Record<string, SlotRef[]> = {};
  for (const [name, arrays] of Object.entries(state.slots)) {
    slots[name] = arrays.map((a) => {
      if (!a) return null;
      const ref = { offset: total, length: a.length };
      total += a.length;
      return ref;
    });
  }
  const header = utf8.encode(JSON.stringify({ ...state, slots }));
  const headerEnd = HEADER_START + header.length;
  const payloadStart = align4(headerEnd);
  const bytes = new Uint8Array(payloadStart + total * 4);
  const view = new DataView(bytes.buffer);
  bytes.set(utf8.encode(MAGIC), 0);
  view.setUint32(16, header.length, true);
  bytes.set(header, HEADER_START);
  let k = payloadStart;
  for (const arrays of Object.values(state.slots)) {
    for (const a of arrays) {
      if (!a) continue;
      for (let i = 0; i < a.length; i++, k += 4) view.setFloat32(k, a[i], true);
    }
  }
  view.setUint32(8, crc32c(bytes.subarray(16, headerEnd)), true);
  view.setUint32(12, crc32c(bytes.subarray(headerEnd)), true);
  return bytes;
}

/**
 * Decodes bytes written by encodeStateDict (format 2, or format 1 without checksums). `source` (a
 * file name) starts every error message. Checksums, header, slot offsets and lengths and the
 * payload size are all checked before a value is returned.
 */
export function decodeStateDict(bytes: Uint8Array, source = 'state'): OptimizerStateDict {
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== MAGIC && magic !== MAGIC_V1) {
    throw corrupt(
      source,
      `not an encoded optimizer state (${bytes.length} bytes; expected bytes starting with "${MAGIC}")`,
    );
  }
  const v1 = magic === MAGIC_V1;
  const headerStart = v1 ? HEADER_START_V1 : HEADER_START;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < headerStart) {
    throw corrupt(source, `truncated optimizer state (${bytes.length} bytes)`);
  }
  const headerLength = dv.getUint32(headerStart - 4, true);
  const headerEnd = headerStart + headerLength;
  if (headerEnd > bytes.length) {
    throw corrupt(
      source,
      `truncated optimizer state: the header needs ${headerEnd} bytes, there are ${bytes.length}`,
    );
  }
  if (!v1) verifyChecksums(bytes, dv, headerEnd, source);
  const payloadStart = align4(headerEnd);
  if (payloadStart > bytes.length || bytes.subarray(headerEnd, payloadStart).some((b) => b !== 0)) {
    throw corrupt(source, 'corrupt optimizer state: bad padding after the header');
  }
  let header: unknown;
  try {
    header = JSON.parse(strictUtf8.decode(bytes.subarray(headerStart, headerEnd)));
  } catch (error) {
    throw corrupt(source, `corrupt optimizer state header (${(error as Error).message})`);
  }
  if (!isRecord(header)) validateStateDict(header, source);
  const state = { ...header, slots: readSlots(header.slots, dv, payloadStart, source) };
  validateStateDict(state, source);
  return state;
}

function verifyChecksums(bytes: Uint8Array, dv: DataView, headerEnd: number, source: string) {
  const parts = [
    ['header', 8, bytes.subarray(16, headerEnd)],
    ['payload', 12, bytes.subarray(headerEnd)],
  ] as const;
  for (const [part, at, covered] of parts) {
    const stored = dv.getUint32(at, true);
    const computed = crc32c(covered);
    if (stored !== computed) {
      throw corrupt(
        source,
        `corrupt optimizer state: ${part} checksum mismatch (crc32c ${hex(stored)} stored, ` +
          `${hex(computed)} computed)`,
      );
    }
  }
}

/**
 * The slot arrays the header's { offset, length } refs point at. The refs must tile the payload
 * exactly, in order (as encodeStateDict lays them out), so none reads the header or past the end.
 */
function readSlots(
  refs: unknown,
  dv: DataView,
  payloadStart: number,
  source: string,
): Record<string, unknown> {
  if (!isRecord(refs)) throw new OptionError('state.slots', refs, 'an object of slots', source);
  const payloadFloats = (dv.byteLength - payloadStart) / 4;
  if (!Number.isInteger(payloadFloats)) {
    throw corrupt(source, 'corrupt optimizer state: the payload is not a whole number of floats');
  }
  let next = 0;
  const slots: Record<string, (Float32Array | null)[]> = {};
  for (const [name, list] of Object.entries(refs)) {
    if (!Array.isArray(list))
      throw new OptionError(`state.slots.${name}`, list, 'an array', source);
    slots[name] = list.map((ref: unknown, i) => {
      if (ref === null) return null;
      const path = `state.slots.${name}[${i}]`;
      if (!isRecord(ref) || Object.keys(ref).length !== 2) {
        throw new OptionError(path, ref, 'null or { offset, length }', source);
      }
      if (ref.offset !== next) {
        throw new OptionError(
          `${path}.offset`,
          ref.offset,
          `${next} (where the previous slot array ends)`,
          source,
        );
      }
      const length = checkNumber(`${path}.length`, ref.length, { min: 0, integer: true }, source);
      if (next + length > payloadFloats) {
        throw corrupt(
          source,
          `truncated optimizer state: ${path} ends at float ${next + length}, the payload holds ${payloadFloats}`,
        );
      }
      const out = new Float32Array(length);
      const base = payloadStart + next * 4;
      for (let k = 0; k < length; k++) out[k] = dv.getFloat32(base + k * 4, true);
      next += length;
      return out;
    });
  }
  if (next !== payloadFloats) {
    throw corrupt(
      source,
      `corrupt optimizer state: the payload holds ${payloadFloats} floats, the slots ${next}`,
    );
  }
  return slots;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
