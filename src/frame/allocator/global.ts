/**
 * The `GlobalFrameAllocator` interface, as the kernel's: what pageframe asks of whatever hands
 * out frames. The default is the buddy allocator in shared memory; a user may plug in another.
 */
import { AllocError } from '../../errors.js';
import type { Paddr } from '../mapping.js';

/**
 * Hands out and takes back runs of frames, by frame counts.
 *
 * Frames it hands out must be UNUSED (pageframe claims them with `fromUnused`), and frames come
 * back through `dealloc` in any order and any grouping (a segment's frames may come back one by
 * one). Its state must be visible to every worker that uses the region: the default keeps it in
 * the shared buffer. A custom allocator is given to `FrameSystem.create` (which calls
 * `addFreeMemory(0, frames)` on it) and to every `FrameSystem.attach`.
 */
export interface GlobalFrameAllocator {
  /** `nframes` contiguous frames aligned to `alignFrames` frames (a power of two), or null. */
  alloc(nframes: number, alignFrames: number): Paddr | null;
  /** Takes back frames it handed out. */
  dealloc(paddr: Paddr, nframes: number): void;
  /** Adds frames that were never free before. */
  addFreeMemory(paddr: Paddr, nframes: number): void;
  /** Optional: free frames now (for `stats()` and `NoMemory` messages). */
  freeFrames?(): number;
  /** Optional: calls `fn` for every free run (for `checkInvariants()`: free ⇒ UNUSED). */
  forEachFree?(fn: (paddr: Paddr, nframes: number) => void): void;
  /** Optional: checks the allocator's own structure, throwing `InvariantError`. */
  checkInvariants?(): void;
}

/** Throws `AllocError('InvalidArgs')` unless `n` is a positive integer. */
export function checkCount(n: number, what = 'frame count'): void {
  if (!Number.isInteger(n) || n <= 0) {
    throw new AllocError('InvalidArgs', `InvalidArgs: ${what} must be a positive integer, not ${String(n)}`);
  }
}
