/**
 * The grow step of a region (the kernel's `add_free_memory` at run time): frames appended at the
 * end of the memory, their metadata slots reserved at creation (`geometry.ts`, for maxFrames).
 * The caller (`frame-allocator/grow.ts`) holds the allocator lock for the whole step, so grows are
 * serialized with each other and with every move of the free lists:
 *
 *   1. the operation journal says OP_GROW [old, old + n)            (nothing changed yet)
 *   2. the memory grows to hold them                                (shared: every worker's next
 *                                                                    look sees the new length)
 *   3. the header's frame count becomes old + n                     (`setCommittedFrames`)
 *   4. the frames become free (marks, then the lists: the caller)   (only now can anyone take one)
 *   5. the journal entry ends, then the lock is released
 *
 * So a frame past the old end is never handed out before every worker can address it: a worker
 * given one reads the header's count (`syncFrames`) and finds the memory long enough. A worker
 * that dies anywhere in 1–5 holds the allocator lock: `reclaimWorker` takes it over and
 * `completeGrowOf` finishes the grow its journal names (the memory never shrinks) before the free
 * lists are rebuilt from the free marks (verify/grow.pml).
 */
import { PAGE_SIZE } from '../base/units.js';
import { growMemory, setCommittedFrames } from './header.js';
import { markFree } from './free-lists.js';
import { OP_COUNT_MASK, OP_GROW, OP_KIND_SHIFT, W_OP_COUNT, W_OP_START, clearOp, recordOp } from './journal.js';
import type { Region } from './region.js';

/** Why a grow did not happen. */
export const GROW_PAST_MAX = -1;
export const GROW_MEMORY_REFUSED = -2;

/**
 * Steps 1–3 of a grow by `n` frames; the caller holds the allocator lock, then frees the new
 * frames (step 4) and ends the journal entry (`clearOp`) before it unlocks. Returns the old frame
 * count, or GROW_PAST_MAX / GROW_MEMORY_REFUSED (then nothing changed and no entry is left).
 * OWNER: the allocator lock's holder. ORDER: journal, memory, count, as the module says.
 */
export function growLocked(r: Region, n: number): number {
  const old = r.nframes; // exact: the count changes only under the lock, and locking synced it
  if (n > r.maxFrames - old) return GROW_PAST_MAX;
  recordOp(r, OP_GROW, old, n);
  if (!growMemory(r.memory, r.offset + r.frameByte + (old + n) * PAGE_SIZE)) {
    clearOp(r);
    return GROW_MEMORY_REFUSED;
  }
  setCommittedFrames(r, old + n);
  r.resize(old + n);
  return old;
}

/**
 * Finishes the grow that the operation journal of record `rec` (a worker that died holding the
 * allocator lock, taken over by the caller) names, if any: the memory and the count as step 2–3,
 * every new frame marked free (the caller then rebuilds the free lists from the marks), and the
 * entry ended. Whether there was one. If the memory cannot grow now (it never did: the count
 * was not raised), the grow is dropped instead.
 * OWNER: the reclaimer, for the dead worker (its record, and the lock taken over).
 * ORDER: as `growLocked`; the marks before the rebuild that lists them.
 */
export function completeGrowOf(r: Region, rec: number): boolean {
  const i32 = r.i32;
  const start = i32[rec + W_OP_START];
  const word = i32[rec + W_OP_COUNT];
  if (start === 0 || word >>> OP_KIND_SHIFT !== OP_GROW) return false;
  const old = start - 1;
  const n = word & OP_COUNT_MASK;
  if (r.nframes < old + n) {
    if (r.nframes !== old || !growMemory(r.memory, r.offset + r.frameByte + (old + n) * PAGE_SIZE)) {
      clearRecordOp(r, rec);
      return true;
    }
    setCommittedFrames(r, old + n);
    r.resize(old + n);
  }
  markFree(r, old, n); // UNUSED since creation; some may be marked already (a death mid-step 4)
  clearRecordOp(r, rec);
  return true;
}

/** Ends the operation entry of record `rec` (the dead worker's). ORDER: as `clearOp`. */
function clearRecordOp(r: Region, rec: number): void {
  r.i32[rec + W_OP_START] = 0;
  r.i32[rec + W_OP_COUNT] = 0;
}
