/**
 * The `MetaSlot` state machine, as the kernel's `meta.rs`: every transition of a slot's
 * reference count is one small function here, and the handles (`Frame`, `UniqueFrame`,
 * `Segment`) are built from them.
 *
 *   UNUSED --claim (CAS)--> 0 (busy) --publish--> 1 | UNIQUE
 *   n --clone / fromInUse--> n+1;  n --drop--> n-1;  1 --last drop--> 0 --teardown--> UNUSED
 *   1 --tryFrom (CAS)--> UNIQUE --intoFrame--> 1;  UNIQUE --drop--> 0 --teardown--> UNUSED
 *
 * JavaScript atomics are sequentially consistent, so each `ORDER:` note below names the
 * happens-before edge that the kernel gets from its Acquire/Release pair.
 */
import { ContractError } from '../base/errors.js';
import { PAGE_SHIFT, PAGE_SIZE, checkPaddr, type Paddr } from '../base/units.js';
import { dropRequiresFailed, ensureFromUnused, requireDropLast, requireFromUnused } from '../checked/contracts.js';
import { push as deferDrop, isEmpty as isDeferredEmpty, takeFreeFlag, takeRunnable } from '../region/deferred.js';
import { OP_DROP, OP_RAW, clearOp, recordOp, restoreOp, saveOp } from '../region/journal.js';
import {
  DROP_DEALLOC,
  DROP_DONE,
  DROP_LAST_SLOW,
  RC_UNIQUE,
  RC_UNUSED,
  SLOT_SHIFT,
  addForgotten,
  beginUniqueDrop,
  claim,
  clearSlot,
  countOf,
  decRef,
  dropShared,
  freeCleared as freeClearedSlot,
  isShared,
  notHeld,
  notUnused,
  publish,
  setType,
  slotPaddr,
  stateName,
  storageByte,
  takeForgotten,
  takeOwnership,
  typeOf,
  unclaim,
} from '../region/meta.js';
import type { Region } from '../region/region.js';
import { hasOnDrop } from '../region/registry.js';
import type { FrameContext } from './context.js';
import { FrameRef } from './frame-ref.js';
import type { AnyInit, AnyMeta } from './meta-type.js';
import { typeById, typeIdOf } from './meta-type.js';

/** What the slot operations need of a region (a `FrameContext`: implemented by `FrameSystem`). */
export type SlotHost = FrameContext;

/** Word index of the slot of frame `index`. */
export function slotWord(sys: SlotHost, index: number): number {
  return sys._region.metaWord + (index << SLOT_SHIFT);
}

/**
 * Claims the unused slot at `w` (region/meta.ts `claim`), throwing `InUse` / `Busy` / `Unique`
 * if it is not unused; then nothing changed.
 */
export function claimOrThrow(r: Region, w: number, paddr: Paddr): void {
  const rc = claim(r, w);
  if (rc !== RC_UNUSED) throw notUnused(rc, paddr);
}

/**
 * The id of `type` for a slot just claimed at `w`, registering the type on first use. If that
 * fails (`Conflict`, `RegistryFull`), the slot is unclaimed first, so a failed call changes
 * nothing: a type is registered only by an operation that succeeds.
 */
export function claimedTypeId(sys: SlotHost, w: number, type: AnyMeta): number {
  if (type._region === sys._region) return type._id;
  try {
    return typeIdOf(sys._region, type);
  } catch (e) {
    unclaim(sys._region, w);
    throw e;
  }
}

/** Writes type id and initial metadata into a claimed (busy) slot whose storage is zero. */
export function writeMeta(r: Region, w: number, typeId: number, type: AnyMeta, init: AnyInit): void {
  setType(r, w, typeId);
  if (init !== undefined) type._write(r.mem, storageByte(w), init); // OWNER: busy, this worker's alone
}

/**
 * `get_from_unused`: NotAligned / OutOfBound / InUse / Busy / Unique, or a published slot.
 * A bad `init` is reported before the slot is touched. Returns the slot word.
 */
export function getFromUnused(
  sys: SlotHost,
  paddr: Paddr,
  type: AnyMeta,
  init: AnyInit,
  unique: boolean,
): number {
  const index = checkPaddr(paddr, sys.maxPaddr);
  type._validate(init);
  const r = sys._region;
  const w = slotWord(sys, index);
  if (sys.checked) requireFromUnused(r, w, paddr);
  recordOp(r, OP_RAW, index, 1);
  let typeId: number;
  try {
    claimOrThrow(r, w, paddr);
    typeId = claimedTypeId(sys, w, type);
    writeMeta(r, w, typeId, type, init);
    publish(r, w, unique);
  } finally {
    clearOp(r);
  }
  if (sys.checked) ensureFromUnused(r, w, paddr, unique, typeId);
  return w;
}

/**
 * Drops one shared reference (region/meta.ts `decRef`). Returns true if it was the last one:
 * the slot is then busy and the caller must tear it down (`dropLast`). A slot that is not held
 * is reported (`drop_requires` in checked mode, else `NotHeld`), unchanged.
 */
export function dropOne(sys: SlotHost, w: number, paddr: Paddr): boolean {
  const old = decRef(sys._region, w);
  if (old === 1) return true;
  if (isShared(old)) return false;
  throw sys.checked ? dropRequiresFailed(paddr, old) : notHeld(paddr, old);
}

/**
 * Drops one shared reference to the frame at `w` (a `Frame` handle's drop): the last one tears
 * the frame down and returns it to the allocator. Journaled, so a worker that dies anywhere in
 * here leaves the frame to `reclaimWorker`.
 */
export function dropRef(sys: SlotHost, w: number, paddr: Paddr): void {
  const r = sys._region;
  const status = dropShared(r, w, paddr >>> PAGE_SHIFT);
  if (status === DROP_DONE) return;
  try {
    if (status === DROP_DEALLOC) sys._dealloc(paddr, 1);
    else if (status === DROP_LAST_SLOW) dropLast(sys, w, true);
    else throw sys.checked ? dropRequiresFailed(paddr, countOf(r, w)) : notHeld(paddr, countOf(r, w));
  } finally {
    clearOp(r);
  }
}

/**
 * Drops a unique frame at `w` (UNIQUE → busy → torn down); `free` returns it to the allocator,
 * else it stays raw-owned by the caller (`resetAsUnused`).
 */
export function dropUnique(sys: SlotHost, w: number, paddr: Paddr, free: boolean): void {
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
export function dropLast(sys: SlotHost, w: number, free: boolean, deallocNow = true): boolean {
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
function dropLastWithOnDrop(sys: SlotHost, w: number, type: AnyMeta, free: boolean, deallocNow: boolean): boolean {
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
function runOnDrop(sys: SlotHost, w: number, paddr: Paddr, type: AnyMeta): void {
  const ref = FrameRef._transient(sys, w, paddr, type);
  try {
    (type._onDrop as unknown as (meta: unknown, frame: FrameRef) => void)(type._view(ref, sys._region.mem, storageByte(w)), ref);
  } finally {
    ref._expire();
  }
}

/**
 * Frees a unique frame whose metadata `dropMetaInPlace` already cleared (a `repurpose` whose
 * old `onDrop` threw): UNIQUE → busy → UNUSED → back to the allocator, journaled.
 */
export function freeCleared(sys: SlotHost, w: number, paddr: Paddr): void {
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
export function dropMetaInPlace(sys: SlotHost, w: number): void {
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
export function drainDeferred(sys: SlotHost): number {
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

/** The slot's count as the API reports it (unsigned: UNUSED and UNIQUE as in the kernel). */
export function loadRefCount(sys: SlotHost, w: number): number {
  return countOf(sys._region, w) >>> 0;
}

/**
 * The state check of every `fromRaw`: the slot must be held, shared (count 1..MAX) or, for a
 * unique frame, UNIQUE. Otherwise `from_raw_requires` fails (checked mode) or `NotHeld`.
 */
export function checkRawHeld(sys: SlotHost, w: number, paddr: Paddr, unique: boolean): void {
  const rc = countOf(sys._region, w);
  if (unique ? rc === RC_UNIQUE : isShared(rc)) return;
  const why = unique ? `the frame is ${stateName(rc)}, not unique` : `the frame is not held (${stateName(rc)})`;
  if (sys.checked) throw new ContractError('from_raw_requires', paddr, why);
  throw notHeld(paddr, rc);
}

/**
 * Takes back one forgotten reference (checked mode): a `fromRaw` with none to take is the
 * double free that `from_raw_requires` rules out.
 */
export function takeForgottenOrThrow(sys: SlotHost, w: number, paddr: Paddr): void {
  if (!takeForgotten(sys._region, w)) {
    throw new ContractError('from_raw_requires', paddr, 'no forgotten reference to restore (no matching intoRaw, or it was already restored)');
  }
}

/** `takeForgottenOrThrow` for every frame of `[start, end)`, all or none (checked mode). */
export function takeForgottenRun(sys: SlotHost, start: Paddr, end: Paddr): void {
  const r = sys._region;
  let p = start;
  try {
    for (; p < end; p += PAGE_SIZE) takeForgottenOrThrow(sys, slotWord(sys, p >>> PAGE_SHIFT), p);
  } catch (e) {
    for (let q = start; q < p; q += PAGE_SIZE) addForgotten(r, slotWord(sys, q >>> PAGE_SHIFT));
    throw e;
  }
}
