/**
 * The one place where option values are checked. Each helper throws an {@link OptionError} naming
 * the option, the received value and the allowed set.
 *
 * Also the package's `decoupled/validate` entry: the harness (decoupled-harness) checks its own
 * options with the same rules and the same messages, so they are written once, here.
 */
import { OptionError } from './errors.js';

export { describe } from './errors.js';

export interface NumberRule {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive upper bound. */
  below?: number;
  integer?: boolean;
}

function ruleText(rule: NumberRule): string {
  const parts: string[] = [];
  if (rule.above !== undefined) parts.push(`> ${rule.above}`);
  if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
  if (rule.below !== undefined) parts.push(`< ${rule.below}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  const kind = rule.integer ? 'an integer' : 'a finite number';
  return parts.length ? `${kind} ${parts.join(' and ')}` : kind;
}

/** Returns `value` if it is a finite number within `rule`, else throws. */
export function checkNumber(option: string, value: unknown, rule: NumberRule, where?: string) {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    (rule.min === undefined || value >= rule.min) &&
    (rule.above === undefined || value > rule.above) &&
    (rule.max === undefined || value <= rule.max) &&
    (rule.below === undefined || value < rule.below);
  if (!ok) throw new OptionError(option, value, ruleText(rule), where);
  return value as number;
}

export function checkBoolean(option: string, value: unknown, where?: string): boolean {
  if (typeof value !== 'boolean') throw new OptionError(option, value, 'true or false', where);
  return value;
}

export function checkOneOf<T extends string>(
  option: string,
  value: unknown,
  allowed: readonly T[],
  where?: string,
): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new OptionError(
      option,
      value,
      `one of ${allowed.map((a) => `'${a}'`).join(', ')}`,
      where,
    );
  }
  return value as T;
}

export function checkFunction<F extends (...args: never[]) => unknown>(
  option: string,
  value: unknown,
  where?: string,
): F {
  if (typeof value !== 'function') throw new OptionError(option, value, 'a function', where);
  return value as F;
}

/** Rejects keys of `options` that are not in `known`, so a typo is an error, not a silent default. */
export function checkKnownKeys(
  options: object,
  known: readonly string[],
  where: string,
  optionPrefix = '',
): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const option = `${optionPrefix}${key}`;
      const allowed = `one of ${known.join(', ')}`;
      throw new OptionError(
        option,
        (options as Record<string, unknown>)[key],
        allowed,
        where,
        `unknown option ${option}; allowed options are ${known.join(', ')}`,
      );
    }
  }
}

/** Checks a pair of Adam betas: two numbers in [0, 1). */
export function checkBetas(value: unknown, where?: string): readonly [number, number] {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new OptionError('betas', value, 'a pair [beta1, beta2] of numbers in [0, 1)', where);
  }
  checkNumber('betas[0]', value[0], { min: 0, below: 1 }, where);
  checkNumber('betas[1]', value[1], { min: 0, below: 1 }, where);
  return [value[0], value[1]] as const;
}
