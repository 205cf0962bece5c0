/**
 * Parsers for the text of command-line flags. Each throws a UsageError (exit 2) that names the
 * flag, the text received and what is allowed. Numbers are plain decimals (`3e-4`, `0.1`, `-2`):
 * `Number()` alone would also take `0x10`, `0b1`, `''` and `Infinity`.
 */
import { UsageError } from './errors.js';

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The finite number written in `text`, or undefined when it is not a plain decimal. */
export function decimal(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : undefined;
}

/** An integer >= min. */
export function parseCount(option: string, text: string, min = 1): number {
  const n = decimal(text);
  if (n === undefined || !Number.isInteger(n) || n < min) {
    throw new UsageError(
      `${option} must be an integer >= ${min}; received ${JSON.stringify(text)}`,
    );
  }
  return n;
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
      throw new UsageError(
        `${option} must be a comma list or a log range from:to:count with from, to > 0 and count >= 2; received ${JSON.stringify(text)}`,
      );
    }
    const ratio = (to / from) ** (1 / (count - 1));
    return Array.from({ length: count }, (_, i) => Number((from * ratio ** i).toPrecision(6)));
  }
  const numbers = text.split(',').map(decimal);
  if (numbers.some((x) => x === undefined)) {
    throw new UsageError(
      `${option} must be a comma-separated list of numbers (e.g. 1e-3,3e-3) or a log range from:to:count; received ${JSON.stringify(text)}`,
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
  throw new UsageError(
    `${option} must be a comma-separated list of integers >= 0 (1,2,3) or a range (1-5); received ${JSON.stringify(text)}`,
  );
}

/** One of `allowed`. */
export function parseName<T extends string>(
  option: string,
  text: string,
  allowed: readonly T[],
): T {
  const name = text.trim();
  if (!allowed.includes(name as T)) {
    throw new UsageError(
      `${option} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; received ${JSON.stringify(text)}`,
    );
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
      throw new UsageError(
        `${option} must be a comma-separated list of ${allowed.map((a) => `'${a}'`).join(', ')}; received ${JSON.stringify(name)}`,
      );
    }
  }
  return names as T[];
}
