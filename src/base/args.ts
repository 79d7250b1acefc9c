/**
 * The validation of arguments by kind, one helper per kind, used by every entry point that takes
 * one (DESIGN "Arguments, closed systems, bad input"): a bad argument is a typed pageframe error
 * and changes nothing, never a coercion, a raw `TypeError` or a hang.
 */
import { FrameUseError } from './errors.js';

/**
 * Refuses a timeout that is not a number >= 0 (`Infinity` allowed): `FrameUseError('BadValue')`.
 * `what` names the parameter in the message. NaN and strings would otherwise wait for ever.
 */
export function checkTimeout(ms: unknown, what = 'timeoutMs'): void {
  if (typeof ms !== 'number' || !(ms >= 0)) {
    throw new FrameUseError('BadValue', `${what} must be a number >= 0 (or Infinity), not ${describe(ms)}`);
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
