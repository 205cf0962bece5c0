/**
 * How the CLI reports bad input: one clear line on stderr and exit code 2, never a stack trace.
 * Any error that carries a user-facing message about input (an OptionError from the core, a zod
 * validation error, a commander usage error, or a UsageError raised by a command) is such input.
 */

import { OptionError } from 'decoupled';
import { describe } from 'decoupled/validate';
import { z } from 'zod';
import { SweepFileError } from '../report/errors.js';

/** Bad input detected by a command: printed as is, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_USAGE = 2;

/** True for errors caused by what the user passed, as opposed to bugs or I/O failures. */
export function isUsageError(error: unknown): error is Error {
  if (error instanceof UsageError || error instanceof OptionError) return true;
  if (error instanceof SweepFileError) return true;
  if (error instanceof z.ZodError) return true;
  return false;
}

/** What a file-system error code says about a path the user named (a wrong --out or --spec). */
const PATH_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EEXIST: 'exists and is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'name too long',
};

/**
 * "cannot open x.yaml: no such file or directory" for a file-system error on a path (its own, or
 * `path` when the error has none, as a read of a directory), else null.
 */
export function describePathError(error: unknown, path?: string): string | null {
  const e = error as NodeJS.ErrnoException;
  const where = e?.path ?? path;
  if (!(error instanceof Error) || typeof e.code !== 'string' || typeof where !== 'string') {
    return null;
  }
  const problem = PATH_PROBLEMS[e.code];
  if (!problem) return null;
  return `cannot ${e.syscall ?? 'use'} ${where}: ${problem}`;
}

/**
 * Failures whose message already tells the user what happened and what to do (Redis gone for
 * good, a sweep directory in use): one line, exit code 1, no stack trace.
 */
const OPERATIONAL_ERRORS = new Set(['RedisUnavailableError', 'SweepLockedError']);

export function isOperationalError(error: unknown): error is Error {
  return error instanceof Error && OPERATIONAL_ERRORS.has(error.name);
}

/** Formats a zod error's issues as `path: message` lines; other errors as their message. */
export function formatUsageError(error: Error): string {
  if (error instanceof z.ZodError) {
    return error.issues
      .map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`)
      .join('\n');
  }
  return error.message;
}

/** The value at `path` in `root` (for "received ..." in schema errors), or undefined. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * A schema error about `input` as one UsageError, a line per issue:
 * `<source>: <message>; received <value>`, where `sourceOf` names what set the value (a flag, a
 * file) from the issue's path in `input` (`toInputPath` maps a path of the checked object to it).
 * Anything else is returned as it is.
 */
export function schemaErrorToUsage(
  error: unknown,
  input: unknown,
  sourceOf: (path: readonly PropertyKey[]) => string,
  toInputPath: (path: readonly PropertyKey[]) => readonly PropertyKey[] = (path) => path,
): unknown {
  if (!(error instanceof z.ZodError)) return error;
  const lines = error.issues.map((issue) => {
    const path = toInputPath(issue.path);
    const received = path.length > 0 ? valueAt(input, path) : undefined;
    const plainObject =
      typeof received === 'object' && received !== null && !Array.isArray(received);
    const shown = received === undefined || plainObject ? '' : `; received ${describe(received)}`;
    return `${sourceOf(path)}: ${issue.message}${shown}`;
  });
  return new UsageError(lines.join('\n'));
}
