/**
 * The `GlobalFrameAllocator` interface, as the kernel's: what pageframe asks of whatever hands
 * out frames. The default is the buddy allocator in shared memory; a user may plug in another.
 */
import { describe } from './args.js';
import { AllocError, hex } from './errors.js';
import { PAGE_SIZE } from './units.js';
import type { Paddr } from './units.js';

/**
 * Hands out and takes back runs of frames, by frame counts.
 *
 * Frames it hands out must be UNUSED (pageframe claims them with `fromUnused`), and frames come
 * back through `dealloc` in any order and any grouping (a segment's frames may come back one by
 * one). Its state must be visible to every worker that uses the region: the default keeps it in
 * the shared buffer. A custom allocator is given to `FrameSystem.create` (which calls
 * `addFreeMemory(0, frames)` on it) and to every `FrameSystem.attach`.
 *
 * @example
 * ```ts
 * // First fit over one worker's bitmap (a real one keeps its state in shared memory).
 * class FirstFit implements GlobalFrameAllocator {
 *   private readonly free: Uint8Array; // 1: the frame is free
 *   constructor(nframes: number) {
 *     this.free = new Uint8Array(nframes);
 *   }
 *   alloc(nframes: number, alignFrames: number): Paddr | null {
 *     for (let i = 0; i + nframes <= this.free.length; i += alignFrames) {
 *       if (this.free.subarray(i, i + nframes).every((f) => f === 1)) {
 *         this.free.fill(0, i, i + nframes);
 *         return i * PAGE_SIZE;
 *       }
 *     }
 *     return null;
 *   }
 *   dealloc(paddr: Paddr, nframes: number): void {
 *     this.free.fill(1, paddr / PAGE_SIZE, paddr / PAGE_SIZE + nframes);
 *   }
 *   addFreeMemory(paddr: Paddr, nframes: number): void {
 *     this.dealloc(paddr, nframes);
 *   }
 *   freeFrames(): number {
 *     return this.free.reduce((sum, f) => sum + f, 0);
 *   }
 * }
 * const sys = FrameSystem.create({ frames: 16, allocator: new FirstFit(16) });
 * const seg = sys.allocSegment(4);
 * console.log(seg.startPaddr, sys.freeFrames()); // 0 12
 * seg.drop();
 * ```
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
    throw new AllocError('InvalidArgs', `${what} must be a positive integer, not ${describe(n)}`);
  }
}

/**
 * Throws `AllocError('InvalidArgs')` unless `[paddr, paddr + nframes frames)` is a page-aligned
 * run inside a region of `total` frames, `paddr` a number (never coerced) and `nframes` a
 * positive integer: what `dealloc` and `addFreeMemory` check before they change anything.
 */
export function checkRun(paddr: unknown, nframes: number, total: number): asserts paddr is number {
  checkCount(nframes);
  if (typeof paddr !== 'number' || paddr % PAGE_SIZE !== 0 || !(paddr >= 0) || paddr / PAGE_SIZE + nframes > total) {
    throw new AllocError('InvalidArgs', `${nframes} frame(s) at ${typeof paddr === 'number' ? hex(paddr) : describe(paddr)} are not a page-aligned run inside the region`);
  }
}
