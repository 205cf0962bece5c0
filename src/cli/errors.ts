/**
 * How the CLI reports bad input: one clear line on stderr and exit code 2, never a stack trace.
 * Any error that carries a user-facing message about input (an OptionError from the core, a zod
 * validation error, a commander usage error, or a UsageError raised by a command) is such input.
 */
import { OptionError } from '../core/errors.js';

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
  if (error instanceof Error && error.name === 'ZodError') return true;
  return false;
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
