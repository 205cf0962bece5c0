/**
 * How the CLI reports bad input: one clear line on stderr and exit code 2, never a stack trace.
 * Any error that carries a user-facing message about input (an OptionError from the core, a zod
 * validation error, a commander usage error, or a UsageError raised by a command) is such input.
 */
import { OptionError } from '../core/errors.js';
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
  if (error instanceof Error && error.name === 'ZodError') return true;
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

/** Formats a zod error's issues as `path: message` lines. */
export function formatUsageError(error: Error): string {
  const issues = (error as { issues?: { path: (string | number)[]; message: string }[] }).issues;
  if (error.name === 'ZodError' && Array.isArray(issues)) {
    return issues
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
