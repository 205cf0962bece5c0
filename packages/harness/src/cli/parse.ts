/**
 * Parsers for the text of command-line flags, the only ones the CLI uses. Each throws the core's
 * OptionError (exit 2), so every message reads "<flag> must be <what is allowed>; received
 * <text>". Numbers are plain decimals (`3e-4`, `0.1`, `-2`): `Number()` alone would also take
 * `0x10`, `0b1`, `''` and `Infinity`.
 */
import { OptionError } from 'decoupled';

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The finite number written in `text`, or undefined when it is not a plain decimal. */
export function decimal(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : undefined;
}

/** A decimal number. */
export function parseNumber(option: string, text: string): number {
  const n = decimal(text);
  if (n === undefined) throw new OptionError(option, text, 'a decimal number (e.g. 3e-4)');
  return n;
}

/** An integer (its range is the schema's to check). */
export function parseInteger(option: string, text: string): number {
  const n = decimal(text);
  if (n === undefined || !Number.isInteger(n)) throw new OptionError(option, text, 'an integer');
  return n;
}

/** An integer >= min. */
export function parseCount(option: string, text: string, min = 1): number {
  const n = decimal(text);
  if (n === undefined || !Number.isInteger(n) || n < min) {
    throw new OptionError(option, text, `an integer >= ${min}`);
  }
  return n;
}

/** "256,256": a comma-separated list of decimals. */
export function parseNumbers(option: string, text: string): number[] {
  const numbers = text.split(',').map(decimal);
  if (numbers.some((x) => x === undefined)) {
    throw new OptionError(option, text, 'a comma-separated list of numbers (e.g. 30,60,80)');
  }
  return numbers as number[];
}

/** "1e-3,3e-3", or a log-spaced range "1e-4:1e-2:5" (from:to:count). */
export function parseNumberList(option: string, text: string): number[] {
  const range = /^([^:,]+):([^:,]+):([^:,]+)$/.exec(text.trim());
  if (range) {
    const [from, to, count] = [decimal(range[1]), decimal(range[2]), decimal(range[3])];
    if (
      from === undefined ||
      to === undefined ||
      count === undefined ||
      !(from > 0 && to > 0 && Number.isInteger(count) && count >= 2)
    ) {
      throw new OptionError(
        option,
        text,
        'a comma list or a log range from:to:count with from, to > 0 and count >= 2',
      );
    }
    const ratio = (to / from) ** (1 / (count - 1));
    return Array.from({ length: count }, (_, i) => Number((from * ratio ** i).toPrecision(6)));
  }
  const numbers = text.split(',').map(decimal);
  if (numbers.some((x) => x === undefined)) {
    throw new OptionError(
      option,
      text,
      'a comma-separated list of numbers (e.g. 1e-3,3e-3) or a log range from:to:count',
    );
  }
  return numbers as number[];
}

/** "1,2,3" or an inclusive range "1-5": non-negative integers. */
export function parseIntegerList(option: string, text: string): number[] {
  const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  if (range) {
    const [from, to] = [Number(range[1]), Number(range[2])];
    if (to >= from && to - from < 10_000) {
      return Array.from({ length: to - from + 1 }, (_, i) => from + i);
    }
  } else {
    const numbers = text.split(',').map(decimal);
    if (numbers.every((x) => x !== undefined && Number.isInteger(x) && x >= 0)) {
      return numbers as number[];
    }
  }
  throw new OptionError(
    option,
    text,
    'a comma-separated list of integers >= 0 (1,2,3) or a range (1-5)',
  );
}

const quoted = (names: readonly string[]) => names.map((a) => `'${a}'`).join(', ');

/** One of `allowed`. */
export function parseName<T extends string>(
  option: string,
  text: string,
  allowed: readonly T[],
): T {
  const name = text.trim();
  if (!allowed.includes(name as T)) {
    throw new OptionError(option, text, `one of ${quoted(allowed)}`);
  }
  return name as T;
}

/** A comma-separated list of names from `allowed`. */
export function parseNameList<T extends string>(
  option: string,
  text: string,
  allowed: readonly T[],
): T[] {
  const names = text.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!allowed.includes(name as T)) {
      throw new OptionError(option, name, `a comma-separated list of ${quoted(allowed)}`);
    }
  }
  return names as T[];
}

/** A commander argument parser that applies `parse` to the text of `option`. */
export function argParser<T>(
  option: string,
  parse: (option: string, text: string) => T,
): (text: string) => T {
  return (text) => parse(option, text);
}

/** A commander argument parser: an integer >= min. */
export function countArg(option: string, min = 1): (text: string) => number {
  return (text) => parseCount(option, text, min);
}
