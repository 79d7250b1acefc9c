/**
 * The validation of arguments by kind, one helper per kind, used by every entry point that takes
 * one (docs/design.md, "The state machine of a slot": failed calls change nothing): a bad argument is a typed pageframe error
 * and changes nothing, never a coercion, a raw `TypeError` or a hang.
 */
import { AllocError, FrameUseError } from './errors.js';

/**
 * Refuses a timeout that is not a number >= 0 (`Infinity` allowed): `FrameUseError('BadValue')`.
 * `what` names the parameter in the message. NaN and strings would otherwise wait for ever.
 */
export function checkTimeout(ms: unknown, what = 'timeoutMs'): void {
  if (typeof ms !== 'number' || !(ms >= 0)) {
    throw new FrameUseError('BadValue', `${what} must be a number >= 0 (or Infinity), not ${describe(ms)}`);
  }
}

/**
 * Refuses a value that is not an integer in `lo..hi` (a count, a capacity, a depth):
 * `FrameUseError('BadValue')`, `what` naming it in the message.
 */
export function checkIntegerIn(value: unknown, lo: number, hi: number, what: string): asserts value is number {
  if (!Number.isInteger(value) || (value as number) < lo || (value as number) > hi) {
    throw new FrameUseError('BadValue', `${what} is an integer in ${lo}..${hi}, not ${describe(value)}`);
  }
}

/** A value as a message shows it: strings quoted, bigints and symbols without throwing. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/**
 * Refuses an address, offset or count that is not of type number (a string, null, a boolean, a
 * bigint, a symbol, an object): `FrameUseError('BadValue')`, never a coercion (`'4096'` would
 * otherwise name frame 1, and `null` frame 0). Numbers go on to the caller's own checks
 * (alignment, bounds), which answer with their specific codes.
 */
export function checkNumber(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number') throw new FrameUseError('BadValue', `${what} must be a number, not ${describe(value)}`);
}

/** Refuses a range that is not an object `{ start, end }` of numbers: `FrameUseError('BadValue')`. */
export function checkRangeArg(range: unknown, what = 'range'): asserts range is { readonly start: number; readonly end: number } {
  if (range === null || typeof range !== 'object') {
    throw new FrameUseError('BadValue', `a ${what} is an object { start, end }, not ${describe(range)}`);
  }
  const { start, end } = range as { start: unknown; end: unknown };
  checkNumber(start, `${what}.start`);
  checkNumber(end, `${what}.end`);
}

/** Refuses bytes that are not a `Uint8Array`: `FrameUseError('BadValue')`. */
export function checkBytesArg(data: unknown, what = 'data'): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) throw new FrameUseError('BadValue', `${what} must be a Uint8Array, not ${describe(data)}`);
}

/**
 * What `value` is, when a handle object with the properties `keys` was expected (`sys.handle`:
 * `memory` and `offset`; `ch.handle`: `paddr`), or `undefined` when it has them: for the caller's
 * typed error, which says that the value is not a handle and what it is instead (`a Frame`, `an
 * object without memory and offset`), rather than which of its properties failed a later check.
 */
export function notAHandle(value: unknown, keys: readonly string[]): string | undefined {
  if (value === null || typeof value !== 'object') return describe(value);
  const missing = keys.filter((k) => !(k in value));
  if (missing.length === 0) return undefined;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== 'Object' && name !== '' ? `a ${name}` : `an object without ${missing.join(' and ')}`;
}

/**
 * Refuses a heap request (`Heap.alloc`) whose size is not an integer in 1..`maxBytes`, or whose
 * alignment is not a power of two in 1..`maxAlign` (the page size): `AllocError('InvalidArgs')`.
 */
export function checkHeapRequest(size: unknown, align: unknown, maxBytes: number, maxAlign: number): asserts size is number {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > maxBytes) {
    throw new AllocError('InvalidArgs', `heap.alloc: size must be an integer in 1..${maxBytes}, not ${describe(size)}`);
  }
  if (typeof align !== 'number' || !Number.isInteger(align) || align < 1 || align > maxAlign || (align & (align - 1)) !== 0) {
    throw new AllocError('InvalidArgs', `heap.alloc: align must be a power of two in 1..${maxAlign}, not ${describe(align)}`);
  }
}
