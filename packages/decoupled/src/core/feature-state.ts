/**
 * The state-dict side of the base class's features (`ema`, `accumulate`): each saves slot arrays
 * and scalars, and restores them in two phases (check everything, then apply), so a rejected state
 * changes nothing.
 */
import { OptionError } from './errors.js';
import type { ExtraStateValue } from './state.js';

/** Per-parameter arrays by slot name, as in OptimizerStateDict.slots. */
export type SlotLists = Record<string, (Float32Array | null)[]>;

/** What a feature puts in the state dict. */
export interface FeatureState {
  readonly slots: SlotLists;
  readonly extra: Record<string, ExtraStateValue>;
}

/** A feature the base class saves and restores. */
export interface StatefulFeature {
  save(): FeatureState;
  /** Checks the saved state (against the parameters' `lengths`); returns what applies it. */
  restore(
    slots: SlotLists | undefined,
    extra: Record<string, ExtraStateValue> | undefined,
    lengths: readonly number[],
    where: string,
  ): () => void;
}

/** Checks a per-parameter slot list: one entry per parameter, each null or the right length. */
export function checkSlotList(
  name: string,
  arrays: unknown,
  lengths: readonly number[],
  required: boolean,
  where: string,
): (Float32Array | null)[] {
  if (arrays === undefined && !required) return lengths.map(() => null);
  if (!Array.isArray(arrays) || arrays.length !== lengths.length) {
    throw new OptionError(`state.slots.${name}`, arrays, `${lengths.length} entries`, where);
  }
  arrays.forEach((a, i) => {
    if (a === null && !required) return;
    if (!(a instanceof Float32Array) || a.length !== lengths[i]) {
      throw new OptionError(
        `state.slots.${name}[${i}]`,
        a,
        `a Float32Array of length ${lengths[i]}`,
        where,
      );
    }
  });
  return arrays as (Float32Array | null)[];
}
