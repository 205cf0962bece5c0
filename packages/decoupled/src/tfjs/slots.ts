/**
 * The optimizer's slot store: per parameter variable, its slots (exp_avg, exp_avg_sq,
 * max_exp_avg_sq, momentum_buffer: the core's SLOT_NAMES) as non-trainable tf.Variables, so a
 * tensor handed out by getWeights stays valid.
 *
 * Entries are kept per Variable object, not by name: tfjs renames variables when a model is loaded
 * again in the same process (kernel -> kernel_1). `weights()` lists `<variable name>/<slot>` for
 * every variable in first-seen order; `restore()` takes that list back, and each restored entry is
 * bound to a variable at its first step, by exact name, then by the name without tfjs' `_N`
 * suffix, then by order; the shapes must agree.
 */
import * as tf from '@tensorflow/tfjs-core';
import { OptionError } from '../core/errors.js';
import { SLOT_NAMES } from '../core/state.js';

export type SlotName = (typeof SLOT_NAMES)[number];

/** A tensor with its name, as tf.Optimizer's weights are listed. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** One parameter variable's state. */
export interface Entry {
  /** The variable this entry updates; null until a restored entry is bound at a step. */
  variable: tf.Variable | null;
  /** The variable's name when the entry was made (saved with the slots). */
  readonly name: string;
  readonly shape: number[];
  /** Excluded from weight decay: uses group 1 (lambda 0). */
  excluded: boolean;
  readonly slots: Map<SlotName, tf.Variable>;
}

/** An entry bound to its variable, as a step uses it. */
export type BoundEntry = Entry & { variable: tf.Variable };

/** Name without tfjs' deduplication suffix: `dense/kernel_1` -> `dense/kernel`. */
function canonicalName(name: string): string {
  return name.replace(/_\d+$/, '');
}

export class SlotStore {
  private entries: Entry[] = [];
  private readonly byVariable = new Map<tf.Variable, Entry>();

  /**
   * @param isExcluded the decay rule, asked once per variable when it is bound
   * @param where the class name errors are reported under
   */
  constructor(
    private readonly isExcluded: (name: string, shape: readonly number[]) => boolean,
    private readonly where: string,
  ) {}

  /** The entry of `variable`: known, a restored one bound now, or a new one. */
  bind(variable: tf.Variable): BoundEntry {
    const known = this.byVariable.get(variable);
    if (known) return known as BoundEntry;
    let entry = this.restoredEntryFor(variable);
    if (entry) {
      entry.variable = variable;
    } else {
      const { name, shape } = variable;
      entry = { variable, name, shape, excluded: false, slots: new Map() };
      this.entries.push(entry);
    }
    entry.excluded = this.isExcluded(variable.name, variable.shape);
    this.byVariable.set(variable, entry);
    return entry as BoundEntry;
  }

  /** Slot `name` of `entry`, created as zeros that own their data on first use. */
  slot(entry: Entry, name: SlotName): tf.Variable {
    let t = entry.slots.get(name);
    // In its own scope, so the zeros are released and the slot owns its data.
    t ??= tf.tidy(() => tf.variable(tf.zeros(entry.shape, 'float32'), false));
    entry.slots.set(name, t);
    return t;
  }

  /** Every entry, bound or restored and not bound yet, in first-seen order. */
  list(): readonly Entry[] {
    return this.entries;
  }

  /** Every slot as `<variable name>/<slot>`, variables in first-seen order. */
  weights(): NamedTensor[] {
    const weights: NamedTensor[] = [];
    for (const e of this.entries) {
      for (const slot of SLOT_NAMES) {
        const t = e.slots.get(slot);
        if (t) weights.push({ name: `${e.name}/${slot}`, tensor: t });
      }
    }
    return weights;
  }

  /**
   * Replaces the store with the slots listed in `weights` (as from weights()), all checked before
   * anything is replaced. A restored slot shares the caller's data until a step gives it its own.
   */
  restore(weights: readonly NamedTensor[]): void {
    const where = `${this.where}.setWeights`;
    const restored: Entry[] = [];
    const tensors: [Entry, SlotName, tf.Tensor][] = [];
    for (const { name, tensor } of weights) {
      const cut = typeof name === 'string' ? name.lastIndexOf('/') : -1;
      const slot = (cut > 0 ? name.slice(cut + 1) : '') as SlotName;
      if (!SLOT_NAMES.includes(slot) || tensor.dtype !== 'float32') {
        const allowed = `'<variable>/<slot>' with a float32 tensor, slot one of ${SLOT_NAMES.join(', ')}`;
        throw new OptionError('weightValues name', name, allowed, where);
      }
      const varName = name.slice(0, cut);
      let entry = restored.find((e) => e.name === varName);
      if (!entry) {
        entry = {
          variable: null,
          name: varName,
          shape: tensor.shape,
          excluded: false,
          slots: new Map(),
        };
        restored.push(entry);
      } else if (!tf.util.arraysEqual(entry.shape, tensor.shape)) {
        throw new OptionError(
          `weightValues '${name}' shape`,
          tensor.shape,
          `[${entry.shape}]`,
          where,
        );
      }
      tensors.push([entry, slot, tensor]);
    }
    for (const [entry, slot, tensor] of tensors) entry.slots.set(slot, tf.variable(tensor, false));
    this.dispose();
    this.entries = restored;
  }

  dispose(): void {
    for (const e of this.entries) for (const s of e.slots.values()) s.dispose();
    this.entries = [];
    this.byVariable.clear();
  }

  /** The restored, unbound entry for `variable` (exact name, canonical name, order), or none. */
  private restoredEntryFor(variable: tf.Variable): Entry | undefined {
    const pending = this.entries.filter((e) => e.variable === null);
    const canonical = canonicalName(variable.name);
    const byCanonical = pending.filter((e) => canonicalName(e.name) === canonical);
    const entry =
      pending.find((e) => e.name === variable.name) ??
      (byCanonical.length === 1 ? byCanonical[0] : undefined) ??
      pending[0];
    if (entry && !tf.util.arraysEqual(entry.shape, variable.shape)) {
      throw new OptionError(
        `restored state '${entry.name}' shape`,
        entry.shape,
        `the shape of variable '${variable.name}' it was matched to, [${variable.shape}]`,
        `${this.where}.applyGradients`,
      );
    }
    return entry;
  }
}
