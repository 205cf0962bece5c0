/**
 * Error types of the optimizer core. Every message names the option (or argument), the value that
 * was received, and what is allowed, so a user can fix the call without reading the source.
 */

/** A hyperparameter, option or argument outside its allowed set. */
export class OptionError extends RangeError {
  readonly option: string;
  readonly value: unknown;
  readonly allowed: string;
  /** Where the error was raised ('AdamW group 1 at step 3', …), the message's prefix. */
  readonly where: string | undefined;
  /** The message without that prefix. */
  readonly detail: string;

  constructor(option: string, value: unknown, allowed: string, where?: string, message?: string) {
    const detail = message ?? `${option} must be ${allowed}; received ${describe(value)}`;
    super(`${where ? `${where}: ` : ''}${detail}`);
    this.name = 'OptionError';
    this.option = option;
    this.value = value;
    this.allowed = allowed;
    this.where = where;
    this.detail = detail;
  }

  /**
   * The same error as raised at `where`: how an adapter names the class the user called (AdamWR,
   * decoupled/tfjs's AdamW) instead of the core optimizer or group it built.
   */
  relabeled(where: string): OptionError {
    return new OptionError(this.option, this.value, this.allowed, where, this.detail);
  }
}

/** A gradient with NaN or ±Infinity, raised before any parameter is written. */
export class NonFiniteGradientError extends RangeError {
  readonly paramIndex: number;
  readonly elementIndex: number;
  readonly value: number;

  constructor(paramIndex: number, elementIndex: number, value: number) {
    super(
      `grads[${paramIndex}][${elementIndex}] is ${value}; gradients must be finite ` +
        `(no parameter was changed; pass nonFinite: 'skip' to skip such steps instead)`,
    );
    this.name = 'NonFiniteGradientError';
    this.paramIndex = paramIndex;
    this.elementIndex = elementIndex;
    this.value = value;
  }
}

/** Renders a received value for an error message, short and unambiguous. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) {
    const shown = value.slice(0, 4).map(describe).join(', ');
    return `[${shown}${value.length > 4 ? ', …' : ''}] (length ${value.length})`;
  }
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name} of length ${(value as unknown as ArrayLike<number>).length}`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const entries = Object.entries(value as object);
    const shown = entries.slice(0, 4).map(([k, v]) => `${k}: ${describe(v)}`);
    return `{ ${shown.join(', ')}${entries.length > 4 ? ', …' : ''} }`;
  }
  return Object.prototype.toString.call(value);
}
