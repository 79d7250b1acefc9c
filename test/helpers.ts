/**
 * Shared test fixtures: the kernel tests' mock metadata types, and the check that a failing
 * call left the region exactly as it was.
 */
import { expect } from 'vitest';
import { defineMeta, FrameSystem, type FrameSystemOptions } from '../src/index.js';

/** The kernel tests' `MockFrameMeta { value: u32 }` (typed). */
export const MockMeta = defineMeta('test.MockFrameMeta', { value: 'u32' });
/** The kernel tests' `MockUFrameMeta { value: u32 }` (untyped). */
export const MockUMeta = defineMeta('test.MockUFrameMeta', { value: 'u32' }, { untyped: true });

/** A region for a test (64 frames unless told otherwise). */
export function makeSystem(options: Partial<FrameSystemOptions> = {}): FrameSystem {
  return FrameSystem.create({ frames: 64, ...options });
}

/** A copy of the region's header and metadata slots (everything but the frames' bytes). */
export function snapshot(sys: FrameSystem): Uint8Array {
  return sys._mem.u8.slice(0, sys._frameByte);
}

/**
 * Runs `fn`, expects it to throw an instance of `errorClass` (with `code` if given), and checks
 * that the header and every slot are byte-for-byte what they were before, and the invariant holds.
 */
export function expectNoChange(
  sys: FrameSystem,
  fn: () => unknown,
  errorClass: abstract new (...args: never[]) => Error,
  code?: string,
): Error {
  const before = snapshot(sys);
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'the call should have thrown').toBeInstanceOf(errorClass);
  if (code !== undefined) expect((caught as { code?: string }).code).toBe(code);
  const after = snapshot(sys);
  expect(firstDifference(before, after), 'the region changed').toBe(-1);
  sys.checkInvariants();
  return caught as Error;
}

/** Index of the first differing byte, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
