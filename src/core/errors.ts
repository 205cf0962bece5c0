/**
 * Error types of the optimizer core. Every message names the option (or argument), the value that
 * was received, and what is allowed, so a user can fix the call without reading the source.
 */

/** A hyperparameter, option or argument outside its allowed set. */
export class OptionError extends RangeError {
  readonly option: string;
  readonly value: unknown;
  readonly allowed: string;

  constructor(option: string, value: unknown, allowed: string, where?: string, message?: string) {
    super(
      `${where ? `${where}: ` : ''}${message ?? `${option} must be ${allowed}; received ${describe(value)}`}`,
    );
    this.name = 'OptionError';
    this.option = option;
    this.value = value;
    this.allowed = allowed;
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
  return Object.prototype.toString.call(value);
}
