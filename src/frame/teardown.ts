/**
 * The last drop of a frame, as the kernel's `drop_last_in_place`: the type's `onDrop` runs with a
 * `FrameRef` valid only while it runs, then the slot is cleared and the frame goes back to the
 * allocator (a segment's frames in runs, one `dealloc` per run). A worker that lacks the type's
 * `onDrop` defers the frame instead (region/deferred.ts) to one that has it (`drainDeferred`).
 *
 * The slot transitions are `region/meta.ts`'s; this file adds what needs a type (`onDrop`),
 * checked mode's contracts and the allocator. `Frame.drop` reaches it through its context
 * (`FrameContext._dropLast`), since the `FrameRef` it makes is `frame.ts`'s.
 */
import { PAGE_SHIFT, PAGE_SIZE, type Paddr } from '../base/units.js';
import { dropRequiresFailed, requireDropLast } from '../checked/contracts.js';
import { push as deferDrop, isEmpty as isDeferredEmpty, takeFreeFlag, takeRunnable } from '../region/deferred.js';
import { OP_DROP, OP_RAW, clearOp, recordOp, restoreOp, saveOp } from '../region/journal.js';
import {
  DROP_LAST_SLOW,
  DROP_NOT_HELD,
  beginUniqueDrop,
  clearSlot,
  countOf,
  dropRun,
  freeCleared as freeClearedSlot,
  notHeld,
  setType,
  slotPaddr,
  storageByte,
  takeOwnership,
  typeOf,
  slotWord,
} from '../region/meta.js';
import { hasOnDrop } from '../region/registry.js';
import type { FrameContext } from './context.js';
import { FrameRef, TeardownLender } from './frame.js';
import { typeById, type AnyMeta } from './meta-type.js';

/**
 * Drops a unique frame at `w` (UNIQUE → busy → torn down); `free` returns it to the allocator,
 * else it stays raw-owned by the caller (`resetAsUnused`).
 */
export function dropUnique(sys: FrameContext, w: number, paddr: Paddr, free: boolean): void {
  recordOp(sys._region, free ? OP_DROP : OP_RAW, paddr >>> PAGE_SHIFT, 1);
  try {
    beginUniqueDrop(sys._region, w);
    dropLast(sys, w, free);
  } finally {
    clearOp(sys._region);
  }
}

/**
 * Tears down a busy (count 0) slot after its last reference: runs the type's `onDrop`, clears
 * the slot and marks it UNUSED. If `free`, the frame then goes back to the allocator: here, or,
 * with `deallocNow` false, by the caller (which batches runs of frames). Returns true if the
 * slot was torn down, false if it was deferred.
 *
 * If the type has an `onDrop` in some worker but not in this one, the frame is deferred instead:
 * it stays busy on the region's deferred-drop stack until a worker that has the `onDrop` drains it
 * (`drainDeferred`). An exception from `onDrop` is rethrown after the teardown (and the dealloc)
 * completed, so the frame is never lost.
 */
export function dropLast(sys: FrameContext, w: number, free: boolean, deallocNow = true): boolean {
  const r = sys._region;
  // Recovery after this worker's death must know the teardown is its. After a decRef or a unique
  // drop this is already so (the holder names itself before the slot turns busy); a frame
  // deferred by another worker and run here from the deferred list is not.
  takeOwnership(r, w);
  if (sys.checked) requireDropLast(r, w, slotPaddr(r, w));
  const typeId = typeOf(r, w);
  const type = typeById(sys._region, typeId);
  if (type._onDrop !== undefined || hasOnDrop(r, typeId)) return dropLastWithOnDrop(sys, w, type, free, deallocNow);
  clearSlot(r, w);
  if (free && deallocNow) sys._dealloc(slotPaddr(r, w), 1);
  return true;
}

/**
 * `dropLast` of a type with an `onDrop` somewhere: runs it here, or defers the frame if this
 * worker has none.
 */
function dropLastWithOnDrop(sys: FrameContext, w: number, type: AnyMeta, free: boolean, deallocNow: boolean): boolean {
  const r = sys._region;
  if (type._onDrop === undefined) {
    deferDrop(r, w, free);
    return false;
  }
  const paddr = slotPaddr(r, w);
  const journal = saveOp(r); // onDrop may run operations of its own
  let error: unknown;
  let failed = false;
  try {
    runOnDrop(sys, w, paddr, type);
  } catch (e) {
    failed = true;
    error = e;
  }
  restoreOp(r, journal);
  clearSlot(r, w);
  if (free && deallocNow) sys._dealloc(paddr, 1);
  if (failed) throw error;
  return true;
}

/** Calls a type's `onDrop` with a `FrameRef` valid only while it runs. */
function runOnDrop(sys: FrameContext, w: number, paddr: Paddr, type: AnyMeta): void {
  const lender = new TeardownLender(paddr);
  const ref = new FrameRef(sys, w, paddr, type, lender);
  try {
    (type._onDrop as unknown as (meta: unknown, frame: FrameRef) => void)(type._view(ref, sys._region.mem, storageByte(w)), ref);
  } finally {
    lender._live = false;
  }
}

/**
 * Frees a unique frame whose metadata `dropMetaInPlace` already cleared (a `repurpose` whose
 * old `onDrop` threw): UNIQUE → busy → UNUSED → back to the allocator, journaled.
 */
export function freeCleared(sys: FrameContext, w: number, paddr: Paddr): void {
  const r = sys._region;
  recordOp(r, OP_DROP, paddr >>> PAGE_SHIFT, 1);
  try {
    freeClearedSlot(r, w);
    sys._dealloc(paddr, 1);
  } finally {
    clearOp(r);
  }
}

/**
 * Runs `onDrop` of the old type and clears the metadata, keeping the count (the kernel's
 * `drop_meta_in_place`, used by `UniqueFrame.repurpose`).
 */
export function dropMetaInPlace(sys: FrameContext, w: number): void {
  const r = sys._region;
  const type = typeById(sys._region, typeOf(r, w));
  let error: unknown;
  let failed = false;
  if (type._onDrop !== undefined) {
    try {
      runOnDrop(sys, w, slotPaddr(r, w), type);
    } catch (e) {
      failed = true;
      error = e;
    }
  }
  type._clear(r.mem, storageByte(w)); // OWNER: the slot is UNIQUE, this handle's alone
  setType(r, w, 0);
  if (failed) throw error;
}

/**
 * Runs the deferred drops whose type has an `onDrop` in this worker, one frame at a time (each
 * journaled before it leaves the stack). Returns how many frames it tore down; the first
 * `onDrop` error is rethrown after all of them.
 */
export function drainDeferred(sys: FrameContext): number {
  const r = sys._region;
  const canRun = (typeId: number): boolean => typeById(sys._region, typeId)._onDrop !== undefined;
  let done = 0;
  let error: unknown;
  let failed = false;
  while (!isDeferredEmpty(r)) {
    const w = takeRunnable(r, canRun);
    if (w < 0) break;
    const free = takeFreeFlag(r, w);
    try {
      dropLast(sys, w, free);
    } catch (e) {
      if (!failed) error = e;
      failed = true;
    } finally {
      clearOp(r);
    }
    done++;
  }
  if (failed) throw error;
  return done;
}

/**
 * Drops one reference to every frame of `[start, end)`. Frames whose last reference this was are
 * torn down and returned to the allocator in runs (one `dealloc` per contiguous run). Every frame
 * is visited even if one fails; the first error is rethrown at the end.
 */
export function dropRange(sys: FrameContext, start: Paddr, end: Paddr): void {
  if (start === end) return;
  recordOp(sys._region, OP_DROP, start >>> PAGE_SHIFT, (end - start) / PAGE_SIZE);
  try {
    dropFrames(sys, start, end);
  } finally {
    clearOp(sys._region);
  }
}

function dropFrames(sys: FrameContext, start: Paddr, end: Paddr): void {
  let runStart = -1;
  let error: unknown;
  let failed = false;
  const fail = (e: unknown): void => {
    if (!failed) error = e;
    failed = true;
  };
  /** The teardown of a frame whose last reference this was (`dropLast`); true if torn down. */
  const last = (w: number): boolean => {
    try {
      return dropLast(sys, w, true, false);
    } catch (e) {
      fail(e);
      return true; // onDrop threw after the teardown completed
    }
  };
  const r = sys._region;
  for (let p = start; p < end; p += PAGE_SIZE) {
    const w = slotWord(sys._region, p >>> PAGE_SHIFT);
    let torn = false;
    // `dropRun` drops, from here, the run of frames whose last reference this is and whose type
    // has no onDrop, and says what it left of the frame that ended the run.
    const res = dropRun(r, w, (end - p) / PAGE_SIZE);
    const k = res >>> 2;
    if (k > 0 && runStart < 0) runStart = p;
    p += k * PAGE_SIZE;
    if (p === end) break;
    const code = res & 3;
    if (code === DROP_LAST_SLOW) torn = last(slotWord(r, p >>> PAGE_SHIFT));
    else if (code === DROP_NOT_HELD) {
      const rc = countOf(r, slotWord(r, p >>> PAGE_SHIFT));
      fail(sys.checked ? dropRequiresFailed(p, rc) : notHeld(p, rc));
    }
    if (torn) {
      if (runStart < 0) runStart = p;
    } else if (runStart >= 0) {
      sys._dealloc(runStart, (p - runStart) / PAGE_SIZE);
      runStart = -1;
    }
  }
  if (runStart >= 0) sys._dealloc(runStart, (end - runStart) / PAGE_SIZE);
  if (failed) throw error;
}
