/**
 * Parameter groups from named parameters, with decay exclusion (as Keras'
 * `exclude_from_weight_decay`, timm's and Hugging Face's no-decay groups): biases and normalization
 * parameters are usually left out of weight decay, since decaying them does not regularize and can
 * hurt. The excluded parameters form a group with weightDecay 0.
 *
 * Default rule: a parameter is excluded if its shape is known and has rank <= 1 (biases, norm scales
 * and shifts), or, when only a flat array is given, if its name matches DEFAULT_NO_DECAY_PATTERNS.
 */
import { OptionError } from './errors.js';

/** A parameter with its shape; a bare Float32Array has no shape. */
export interface ShapedParam {
  readonly values: Float32Array;
  readonly shape: readonly number[];
}

export type NamedParam = Float32Array | ShapedParam;
export type NamedParams = Record<string, NamedParam> | Iterable<readonly [string, NamedParam]>;

export interface DecayExclusion {
  /** Names matching any of these (substring for strings) are excluded. */
  patterns?: readonly (string | RegExp)[];
  /** Returns true for parameters to exclude. */
  predicate?: (name: string, values: Float32Array, shape: readonly number[] | undefined) => boolean;
  /** Also apply the default rule (default true). */
  useDefaultRule?: boolean;
}

/** A group built by groupParams; its params are in the order of `names`. */
export interface NamedParamGroup {
  params: Float32Array[];
  names: string[];
  weightDecay?: number;
}

export const DEFAULT_NO_DECAY_PATTERNS: readonly RegExp[] = [
  /(^|[./_])bias$/i,
  /(^|[./_])(beta|gamma)$/i,
  /norm/i,
  /(^|[./_])(bn|ln)\d*([./_]|$)/i,
];

/** The default rule: rank <= 1 when the shape is known, else a bias or normalization name. */
export function isDefaultNoDecay(name: string, shape: readonly number[] | undefined): boolean {
  if (shape) return shape.length <= 1;
  return DEFAULT_NO_DECAY_PATTERNS.some((re) => re.test(name));
}

/**
 * Splits named params into a decayed group and a no-decay group (weightDecay 0); empty groups are
 * left out. Pass the result as `params` to any optimizer, and the gradients in the same order (see
 * `orderByGroups`).
 */
export function groupParams(named: NamedParams, exclude: DecayExclusion = {}): NamedParamGroup[] {
  const decay: NamedParamGroup = { params: [], names: [] };
  const noDecay: NamedParamGroup = { params: [], names: [], weightDecay: 0 };
  const entries = isIterable(named) ? [...named] : Object.entries(named);
  if (entries.length === 0)
    throw new OptionError('named', named, 'at least one named param', 'groupParams');
  for (const [name, param] of entries) {
    const values = param instanceof Float32Array ? param : param?.values;
    const shape = param instanceof Float32Array ? undefined : param?.shape;
    if (!(values instanceof Float32Array)) {
      throw new OptionError(
        `named['${name}']`,
        param,
        'a Float32Array or { values: Float32Array, shape }',
        'groupParams',
      );
    }
    const excluded =
      ((exclude.useDefaultRule ?? true) && isDefaultNoDecay(name, shape)) ||
      (exclude.patterns ?? []).some((p) =>
        typeof p === 'string' ? name.includes(p) : p.test(name),
      ) ||
      (exclude.predicate?.(name, values, shape) ?? false);
    const group = excluded ? noDecay : decay;
    group.params.push(values);
    group.names.push(name);
  }
  return [decay, noDecay].filter((g) => g.params.length > 0);
}

/** Gradients by name, in the flattened order of `groups` (the order `step` expects). */
export function orderByGroups(
  groups: readonly NamedParamGroup[],
  byName: Record<string, Float32Array>,
): Float32Array[] {
  return groups.flatMap((g) =>
    g.names.map((name) => {
      const grad = byName[name];
      if (!grad) throw new OptionError(`grads['${name}']`, grad, 'a Float32Array', 'orderByGroups');
      return grad;
    }),
  );
}

function isIterable(x: NamedParams): x is Iterable<readonly [string, NamedParam]> {
  return typeof (x as Iterable<unknown>)[Symbol.iterator] === 'function';
}
