/**
 * `FrameSystem.grow` and `autoGrow`: the region's grow step (`region/grow.ts`) with the new frames
 * given to the allocator in use. The shared buddy allocator (behind the per-worker caches, or
 * alone) takes them in the same hold of its lock, so a worker that dies anywhere in the grow leaves
 * it for `reclaimWorker` to finish; a custom `GlobalFrameAllocator` gets them through its
 * `addFreeMemory` once the lock is released (a death in between loses them to it).
 */
import { FrameSystemError } from '../base/errors.js';
import { PAGE_SIZE } from '../base/units.js';
import type { GlobalFrameAllocator } from '../base/global-allocator.js';
import { lockAllocator, unlockAllocator } from '../region/free-lists.js';
import { GROW_PAST_MAX, growLocked } from '../region/grow.js';
import { clearOp } from '../region/journal.js';
import type { Region } from '../region/region.js';
import type { BuddyAllocator } from './buddy.js';

/**
 * Grows region `r` by `n` frames (a positive integer, checked by the caller) and frees them in
 * `buddy` (the shared buddy allocator, when the region uses it) or else `custom`; returns the new
 * frame count. `FrameSystemError('CannotGrow')` past maxFrames or when the memory cannot grow
 * (then nothing changed).
 */
export function growRegion(r: Region, n: number, buddy: BuddyAllocator | undefined, custom: GlobalFrameAllocator): number {
  let old: number;
  lockAllocator(r);
  try {
    old = growLocked(r, n);
    if (old < 0) {
      throw new FrameSystemError(
        'CannotGrow',
        old === GROW_PAST_MAX
          ? `cannot grow by ${n} frames: the region has ${r.nframes} of at most ${r.maxFrames} (create({ maxFrames }))`
          : `cannot grow by ${n} frames: the memory cannot grow to ${r.offset + r.frameByte + (r.nframes + n) * PAGE_SIZE} bytes`,
      );
    }
    if (buddy !== undefined) buddy.freeRunsLocked([[old, n]]);
    clearOp(r);
  } finally {
    unlockAllocator(r);
  }
  if (buddy === undefined) custom.addFreeMemory(old * PAGE_SIZE, n);
  return old + n;
}

/**
 * How many frames `autoGrow` adds for an allocation of `needed` frames that found none (region
 * `r` has `nframes` now, at most `maxFrames`), or 0 when even growing to maxFrames would not do:
 * `setting` n > 0 grows by the larger of n and `needed`; -1 (true) by the larger of `needed` and
 * ceil(nframes / 8); both capped at maxFrames.
 */
export function autoGrowBy(setting: number, needed: number, nframes: number, maxFrames: number): number {
  if (setting === 0 || needed > maxFrames - nframes) return 0;
  const want = setting > 0 ? Math.max(setting, needed) : Math.max(needed, Math.ceil(nframes / 8));
  return Math.min(want, maxFrames - nframes);
}
