/**
 * Seeded corruptions for the integrity fuzz: byte-level (a bit flip, truncation, inserted or
 * deleted bytes, garbage appended) and, for JSON files, structural (a field deleted, a value
 * replaced by one of another type). Every draw comes from the harness's sfc32 Rng, so a seed
 * replays the same corruptions.
 */
import type { Rng } from '#harness/experiments/rng.js';

export const BYTE_CORRUPTIONS = [
  'bit flip',
  'truncation',
  'insertion',
  'deletion',
  'garbage',
] as const;
export const JSON_CORRUPTIONS = ['field deletion', 'type change'] as const;
export type Corruption = (typeof BYTE_CORRUPTIONS)[number] | (typeof JSON_CORRUPTIONS)[number];

function randomBytes(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

/** `bytes` damaged by `kind` (a new array; the input is not changed). */
export function corruptBytes(bytes: Uint8Array, kind: Corruption, rng: Rng): Uint8Array {
  const at = rng.int(bytes.length);
  switch (kind) {
    case 'bit flip': {
      const out = new Uint8Array(bytes); // a copy (a Buffer's slice() would share memory)
      out[at] ^= 1 << rng.int(8);
      return out;
    }
    case 'truncation':
      return bytes.slice(0, at);
    case 'insertion': {
      const extra = randomBytes(rng, 1 + rng.int(8));
      return Uint8Array.from([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)]);
    }
    case 'deletion':
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1 + rng.int(8))]);
    case 'garbage':
      return Uint8Array.from([...bytes, ...randomBytes(rng, 1 + rng.int(64))]);
    default:
      return corruptJson(bytes, kind, rng);
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Paths to every value below the root: [parent, key] pairs. */
function slots(value: Json, out: [Json[] | { [key: string]: Json }, string | number][] = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      slots(v, out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push([value, k]);
      slots(v, out);
    }
  }
  return out;
}

const OTHER_TYPES: Json[] = [null, true, 7, 'x', [], {}];

function typeOf(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** A field of the JSON text deleted, or replaced by a value of another type. */
function corruptJson(bytes: Uint8Array, kind: Corruption, rng: Rng): Uint8Array {
  const root = JSON.parse(new TextDecoder().decode(bytes)) as Json;
  const all = slots(root);
  const [parent, key] = all[rng.int(all.length)];
  if (kind === 'field deletion') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key as string];
  } else {
    const current = (parent as Record<string | number, Json>)[key];
    const choices = OTHER_TYPES.filter((v) => typeOf(v) !== typeOf(current));
    (parent as Record<string | number, Json>)[key] = choices[rng.int(choices.length)];
  }
  return new TextEncoder().encode(JSON.stringify(root));
}
