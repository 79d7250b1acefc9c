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
import { ContractError, FrameUseError, GetFrameError, hex } from '../base/errors.js';
import { H_DEFER_HEAD, H_DEFER_LOCK } from '../region/geometry.js';
import { RC_UNIQUE, RC_UNUSED, SLOT_SHIFT, STORAGE_BYTE_OFFSET, S_AUX, S_LIST, S_NEXT, S_OWNER, S_STORAGE, S_TYPE, stateName } from '../region/meta.js';
import { OP_DROP, OP_RAW } from '../region/journal.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../base/units.js';
import { REF_COUNT_MAX } from '../base/limits.js';
import { lock, unlock } from '../shm/lock.js';
import { DROP_DEALLOC, DROP_DONE, DROP_LAST_SLOW } from '../region/fast-path.js';
import { clearOp, endOp, recordOp, restoreOp, saveOp, writeOp, type JournalHost } from '../region/journal.js';
import { dropRequiresFailed, ensureFromUnused, requireDropLast, requireFromUnused } from '../checked/contracts.js';
import { FrameRef } from './frame-ref.js';
import { checkPaddr, type Paddr } from '../base/units.js';
import type { AnyInit, AnyMeta } from './meta-type.js';
import { typeById, typeHasOnDrop, typeIdOf, type RegistryHost } from './registry.js';

/** What the slot operations need of a region (implemented by `FrameSystem`). */
export interface SlotHost extends RegistryHost, JournalHost {
  readonly workerId: number;
  readonly maxPaddr: number;
  readonly checked: boolean;
  /** Returns frames to the allocator. */
  _dealloc(paddr: Paddr, nframes: number): void;
}

/** Word index of the slot of frame `index`. */
export function slotWord(sys: SlotHost, index: number): number {
  return sys._region.metaWord + (index << SLOT_SHIFT);
}

/** Byte address of the storage of the slot at word `w`. */
export function storageByte(w: number): number {
  return (w << 2) + STORAGE_BYTE_OFFSET;
}

/** The paddr of the slot at word `w`. */
export function slotPaddr(sys: SlotHost, w: number): Paddr {
  return ((w - sys._region.metaWord) >> SLOT_SHIFT) << PAGE_SHIFT >>> 0;
}

/** The error `fromUnused` reports for a slot whose count was `rc` instead of UNUSED. */
export function notUnused(rc: number, paddr: Paddr): GetFrameError {
  return new GetFrameError(rc === RC_UNIQUE ? 'Unique' : rc === 0 ? 'Busy' : 'InUse', paddr);
}

/**
 * Claims the unused slot at word `w` (CAS UNUSED → 0, the kernel's `get_from_unused` first
 * step). Throws `InUse` / `Busy` / `Unique` if the slot is not unused; then nothing changed.
 *
 * OWNER: `S_OWNER` names the worker answerable for a busy or in-flight slot, and is written by
 * that worker *before* the transition that makes it so (the allocator writes it when it hands a
 * frame out, a drop before its decrement), so a worker that dies right after the transition
 * is found by `reclaimWorker`. Only a claim of a raw frame writes it after.
 */
export function claim(sys: SlotHost, w: number, paddr: Paddr): void {
  const rc = sys._region.at.cas(w, RC_UNUSED, 0);
  if (rc !== RC_UNUSED) throw notUnused(rc, paddr);
  sys._region.mem.i32[w + S_OWNER] = sys.workerId;
}

/**
 * The id of `type` for a slot just claimed at `w`, registering the type on first use. If that
 * fails (`Conflict`, `RegistryFull`), the slot is unclaimed first, so a failed call changes
 * nothing: a type is registered only by an operation that succeeds.
 */
export function claimedTypeId(sys: SlotHost, w: number, type: AnyMeta): number {
  if (type._sys === sys) return type._id;
  try {
    return typeIdOf(sys, type);
  } catch (e) {
    Atomics.store(sys._region.mem.i32, w, RC_UNUSED);
    throw e;
  }
}

/** Writes type id and initial metadata into a claimed (busy) slot whose storage is zero. */
export function writeMeta(sys: SlotHost, w: number, typeId: number, type: AnyMeta, init: AnyInit): void {
  sys._region.mem.i32[w + S_TYPE] = typeId;
  if (init !== undefined) type._write(sys._region.mem, storageByte(w), init);
}

/**
 * Publishes a claimed slot: count 1, or UNIQUE.
 * ORDER: the metadata was written before this store; a worker that sees the count (an atomic
 * load or CAS of this word) sees the metadata.
 */
export function publish(sys: SlotHost, w: number, unique: boolean): void {
  sys._region.at.store(w, unique ? RC_UNIQUE : 1);
}

/** Undoes `claim` + `writeMeta` on a slot nobody else can see yet (count still 0). */
export function unclaim(sys: SlotHost, w: number, type: AnyMeta): void {
  const i32 = sys._region.mem.i32;
  type._clear(sys._region.mem, storageByte(w));
  i32[w + S_TYPE] = 0;
  Atomics.store(i32, w, RC_UNUSED);
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
  const w = slotWord(sys, index);
  if (sys.checked) requireFromUnused(sys, w, paddr);
  recordOp(sys, OP_RAW, index, 1);
  let typeId: number;
  try {
    claim(sys, w, paddr);
    typeId = claimedTypeId(sys, w, type);
    writeMeta(sys, w, typeId, type, init);
    publish(sys, w, unique);
  } finally {
    clearOp(sys);
  }
  if (sys.checked) ensureFromUnused(sys, w, paddr, unique, typeId);
  return w;
}

/**
 * `get_from_in_use`: adds a reference to a shared frame. Unused / Unique / Busy as the kernel;
 * a count at REF_COUNT_MAX is an `Overflow` error (the kernel aborts). Returns the slot word.
 */
export function getFromInUse(sys: SlotHost, paddr: Paddr): number {
  const index = checkPaddr(paddr, sys.maxPaddr);
  const at = sys._region.at;
  const w = slotWord(sys, index);
  for (;;) {
    const rc = at.load(w);
    if (rc === RC_UNUSED) throw new GetFrameError('Unused', paddr);
    if (rc === RC_UNIQUE) throw new GetFrameError('Unique', paddr);
    if (rc === 0) throw new GetFrameError('Busy', paddr);
    if (rc >= REF_COUNT_MAX || rc < 0) throw overflow(paddr, rc);
    // ORDER: the successful CAS reads the count published after the metadata was written.
    if (at.cas(w, rc, rc + 1) === rc) return w;
  }
}

function overflow(paddr: Paddr, rc: number): FrameUseError {
  return new FrameUseError('Overflow', `frame ${hex(paddr)} has ${rc >>> 0} references; at most ${REF_COUNT_MAX}`);
}

/**
 * Adds one reference to a frame the caller holds (the kernel's `inc_ref_count`). Past
 * REF_COUNT_MAX the increment is undone and `Overflow` thrown (the kernel aborts).
 */
export function incRef(sys: SlotHost, w: number, paddr: Paddr): void {
  const old = sys._region.at.add(w, 1);
  if (old >= REF_COUNT_MAX || old <= 0) {
    sys._region.at.sub(w, 1);
    if (old <= 0) throw notHeld(paddr, old);
    throw overflow(paddr, old);
  }
}

/**
 * Drops one shared reference. Returns true if it was the last one: the slot is then busy (0)
 * and the caller must call `dropLast`. A slot that is not held is reported, unchanged.
 *
 * OWNER: only the holder of the last reference names itself in `S_OWNER`, right before the CAS
 * that makes the slot busy. (Every dropper writing it before a decrement, as before, let a
 * dropper whose decrement was not the last overwrite the name of the one whose was: a worker
 * that died after that decrement left a busy slot that reclaim judged another's. Found by the
 * SPIN model, verify/slot.pml.)
 */
export function decRef(sys: SlotHost, w: number, paddr: Paddr): boolean {
  const at = sys._region.at;
  for (;;) {
    const old = at.load(w);
    if (old < 1 || old > REF_COUNT_MAX) throw sys.checked ? dropRequiresFailed(paddr, old) : notHeld(paddr, old);
    if (old === 1) sys._region.mem.i32[w + S_OWNER] = sys.workerId;
    if (at.cas(w, old, old - 1) === old) return old === 1;
  }
}

/**
 * Drops one shared reference to the frame at `w` (a `Frame` handle's drop): the last one tears
 * the frame down and returns it to the allocator. Journaled, so a worker that dies anywhere in
 * here leaves the frame to `reclaimWorker`.
 */
export function dropRef(sys: SlotHost, w: number, paddr: Paddr): void {
  const fast = sys._region.fast;
  if (fast !== undefined) {
    const status = fast.drop(w);
    if (status !== DROP_DONE) finishFastDrop(sys, w, paddr, status);
    return;
  }
  const i32 = sys._region.mem.i32;
  const rec = sys._region.rec;
  writeOp(i32, rec, OP_DROP, paddr >>> PAGE_SHIFT, 1);
  try {
    if (!decRef(sys, w, paddr)) return;
    if (!sys.checked && tearDownPlain(sys, i32, w)) sys._dealloc(paddr, 1);
    else dropLast(sys, w, true);
  } finally {
    endOp(i32, rec);
  }
}

/** What the fast path's `drop` left to do, by its status; then the journal entry ends. */
function finishFastDrop(sys: SlotHost, w: number, paddr: Paddr, status: number): void {
  try {
    if (status === DROP_DEALLOC) sys._dealloc(paddr, 1);
    else if (status === DROP_LAST_SLOW) dropLast(sys, w, true);
    else throw notHeld(paddr, sys._region.at.load(w));
  } finally {
    clearOp(sys);
  }
}

/**
 * The hot path of a last drop (unchecked): if the frame's type has no `onDrop` in any worker,
 * tears the busy slot down (UNUSED, not yet given back: the caller deallocates); false, with
 * nothing done, otherwise (then `dropLast` does it).
 */
export function tearDownPlain(sys: SlotHost, i32: Int32Array, w: number): boolean {
  const typeId = i32[w + S_TYPE];
  const type = sys._types[typeId];
  if (type === undefined || type._onDrop !== undefined || typeHasOnDrop(sys, typeId)) return false;
  i32[w + S_OWNER] = sys.workerId; // as in dropLast
  clearSlot(i32, w, type);
  return true;
}

/**
 * Drops a unique frame at `w` (UNIQUE → busy → torn down); `free` returns it to the allocator,
 * else it stays raw-owned by the caller (`resetAsUnused`).
 */
export function dropUnique(sys: SlotHost, w: number, paddr: Paddr, free: boolean): void {
  recordOp(sys, free ? OP_DROP : OP_RAW, paddr >>> PAGE_SHIFT, 1);
  try {
    sys._region.mem.i32[w + S_OWNER] = sys.workerId; // OWNER: before it turns busy
    sys._region.at.store(w, 0);
    dropLast(sys, w, free);
  } finally {
    clearOp(sys);
  }
}

/** The error for a drop or clone of a slot whose count says nobody holds it. */
export function notHeld(paddr: Paddr, rc: number): FrameUseError {
  return new FrameUseError('NotHeld', `frame ${hex(paddr)} is ${stateName(rc)}; no shared reference is held`);
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
  const i32 = sys._region.mem.i32;
  // Recovery after this worker's death must know the teardown is its. After a decRef or a unique
  // drop this is already so (the holder names itself before the slot turns busy); a frame
  // deferred by another worker and run here from the deferred list is not.
  i32[w + S_OWNER] = sys.workerId;
  if (sys.checked) requireDropLast(sys, w, slotPaddr(sys, w));
  const typeId = i32[w + S_TYPE];
  const type = typeById(sys, typeId);
  if (type._onDrop !== undefined || typeHasOnDrop(sys, typeId)) return dropLastWithOnDrop(sys, w, type, free, deallocNow);
  clearSlot(sys._region.mem.i32, w, type);
  if (free && deallocNow) sys._dealloc(slotPaddr(sys, w), 1);
  return true;
}

/**
 * `dropLast` of a type with an `onDrop` somewhere: runs it here, or defers the frame if this
 * worker has none.
 */
function dropLastWithOnDrop(sys: SlotHost, w: number, type: AnyMeta, free: boolean, deallocNow: boolean): boolean {
  if (type._onDrop === undefined) {
    defer(sys, w, free);
    return false;
  }
  const paddr = slotPaddr(sys, w);
  let error: unknown;
  let failed = false;
  const ref = FrameRef._transient(sys, w, paddr, type);
  const journal = saveOp(sys); // onDrop may run operations of its own
  try {
    callOnDrop(type, type._view(ref, sys._region.mem, storageByte(w)), ref);
  } catch (e) {
    failed = true;
    error = e;
  }
  restoreOp(sys, journal);
  ref._expire();
  clearSlot(sys._region.mem.i32, w, type);
  if (free && deallocNow) sys._dealloc(paddr, 1);
  if (failed) throw error;
  return true;
}

/** Calls a type's `onDrop` (its parameter types are erased in `MetaType`). */
function callOnDrop(type: AnyMeta, meta: unknown, ref: FrameRef): void {
  (type._onDrop as unknown as (meta: unknown, frame: FrameRef) => void)(meta, ref);
}

/** Clears a busy slot's metadata and marks it UNUSED (the end of `drop_last_in_place`). */
function clearSlot(i32: Int32Array, w: number, type: AnyMeta): void {
  const end = w + S_STORAGE + ((type.size + 3) >> 2);
  for (let k = w + S_STORAGE; k < end; k++) i32[k] = 0; // plain stores: faster than fill()
  i32[w + S_TYPE] = 0;
  i32[w + S_LIST] = 0;
  i32[w + S_AUX] = 0;
  // ORDER: the slot is cleared before it reads UNUSED. A plain store is enough: the slot is busy
  // and this worker's alone, so no other worker writes it, and whoever may claim it next gets
  // it through a happens-before edge (this worker's own cache, or the allocator's lock). A
  // racing `fromInUse` reads busy or UNUSED, both refusals.
  i32[w] = RC_UNUSED;
}

/**
 * Frees a unique frame whose metadata `dropMetaInPlace` already cleared (a `repurpose` whose
 * old `onDrop` threw): UNIQUE → busy → UNUSED → back to the allocator.
 */
export function freeCleared(sys: SlotHost, w: number, paddr: Paddr): void {
  const i32 = sys._region.mem.i32;
  recordOp(sys, OP_DROP, paddr >>> PAGE_SHIFT, 1);
  try {
    i32[w + S_OWNER] = sys.workerId;
    Atomics.store(i32, w, 0);
    i32[w + S_LIST] = 0;
    i32[w + S_AUX] = 0;
    Atomics.store(i32, w, RC_UNUSED);
    sys._dealloc(paddr, 1);
  } finally {
    clearOp(sys);
  }
}

/**
 * Runs `onDrop` of the old type and clears the metadata, keeping the count (the kernel's
 * `drop_meta_in_place`, used by `UniqueFrame.repurpose`).
 */
export function dropMetaInPlace(sys: SlotHost, w: number): void {
  const i32 = sys._region.mem.i32;
  const type = typeById(sys, i32[w + S_TYPE]);
  let error: unknown;
  let failed = false;
  if (type._onDrop !== undefined) {
    const paddr = slotPaddr(sys, w);
    const ref = FrameRef._transient(sys, w, paddr, type);
    try {
      callOnDrop(type, type._view(ref, sys._region.mem, storageByte(w)), ref);
    } catch (e) {
      failed = true;
      error = e;
    }
    ref._expire();
  }
  type._clear(sys._region.mem, storageByte(w));
  i32[w + S_TYPE] = 0;
  if (failed) throw error;
}

/** Pushes a busy slot on the deferred-drop stack; `S_AUX` remembers whether to free it after. */
function defer(sys: SlotHost, w: number, free: boolean): void {
  const i32 = sys._region.mem.i32;
  lock(i32, H_DEFER_LOCK, sys._region.token);
  i32[w + S_AUX] = free ? 1 : 0;
  i32[w + S_NEXT] = i32[H_DEFER_HEAD];
  i32[H_DEFER_HEAD] = ((w - sys._region.metaWord) >> SLOT_SHIFT) + 1;
  unlock(i32, H_DEFER_LOCK);
}

/**
 * Runs the deferred drops whose type has an `onDrop` in this worker, one frame at a time (each
 * journaled before it leaves the stack). Returns how many frames it tore down; the first
 * `onDrop` error is rethrown after all of them.
 */
export function drainDeferred(sys: SlotHost): number {
  const i32 = sys._region.mem.i32;
  let done = 0;
  let error: unknown;
  let failed = false;
  while (Atomics.load(i32, H_DEFER_HEAD) !== 0) {
    const w = takeDeferred(sys);
    if (w < 0) break;
    const free = i32[w + S_AUX] === 1;
    i32[w + S_AUX] = 0;
    try {
      dropLast(sys, w, free);
    } catch (e) {
      if (!failed) error = e;
      failed = true;
    } finally {
      clearOp(sys);
    }
    done++;
  }
  if (failed) throw error;
  return done;
}

/**
 * Unlinks the first deferred frame this worker can tear down, journaled as its drop; -1 if
 * there is none.
 */
function takeDeferred(sys: SlotHost): number {
  const i32 = sys._region.mem.i32;
  lock(i32, H_DEFER_LOCK, sys._region.token);
  try {
    let prev = -1;
    for (let cur = i32[H_DEFER_HEAD]; cur !== 0; ) {
      const w = slotWord(sys, cur - 1);
      const next = i32[w + S_NEXT];
      if (typeById(sys, i32[w + S_TYPE])._onDrop !== undefined) {
        recordOp(sys, i32[w + S_AUX] === 1 ? OP_DROP : OP_RAW, cur - 1, 1);
        i32[w + S_OWNER] = sys.workerId;
        // ORDER: journaled and owned before the single write that takes it off the stack.
        if (prev === -1) i32[H_DEFER_HEAD] = next;
        else i32[prev + S_NEXT] = next;
        i32[w + S_NEXT] = 0;
        return w;
      }
      prev = w;
      cur = next;
    }
    return -1;
  } finally {
    unlock(i32, H_DEFER_LOCK);
  }
}

/** The slot's count as the API reports it (unsigned: UNUSED and UNIQUE as in the kernel). */
export function loadRefCount(sys: SlotHost, w: number): number {
  return sys._region.at.load(w) >>> 0;
}

/**
 * The state check of every `fromRaw`: the slot must be held, shared (count 1..MAX) or, for a
 * unique frame, UNIQUE. Otherwise `from_raw_requires` fails (checked mode) or `NotHeld`.
 */
export function checkRawHeld(sys: SlotHost, w: number, paddr: Paddr, unique: boolean): void {
  const rc = Atomics.load(sys._region.mem.i32, w);
  if (unique ? rc === RC_UNIQUE : rc > 0 && rc <= REF_COUNT_MAX) return;
  const why = unique ? `the frame is ${stateName(rc)}, not unique` : `the frame is not held (${stateName(rc)})`;
  if (sys.checked) throw new ContractError('from_raw_requires', paddr, why);
  throw notHeld(paddr, rc);
}

/** Records one forgotten reference of a held slot (checked mode's `dropped_slots`). */
export function addForgotten(sys: SlotHost, w: number): void {
  Atomics.add(sys._region.mem.i32, w + S_AUX, 1);
}

/**
 * Takes back one forgotten reference (checked mode): a `fromRaw` with none to take is the
 * double free that `from_raw_requires` rules out.
 */
export function takeForgotten(sys: SlotHost, w: number, paddr: Paddr): void {
  const i32 = sys._region.mem.i32;
  for (;;) {
    const n = Atomics.load(i32, w + S_AUX);
    if (n <= 0) {
      throw new ContractError(
        'from_raw_requires',
        paddr,
        'no forgotten reference to restore (no matching intoRaw, or it was already restored)',
      );
    }
    if (Atomics.compareExchange(i32, w + S_AUX, n, n - 1) === n) return;
  }
}

/** `takeForgotten` for every frame of `[start, end)`, all or none (checked mode). */
export function takeForgottenRun(sys: SlotHost, start: Paddr, end: Paddr): void {
  let p = start;
  try {
    for (; p < end; p += PAGE_SIZE) takeForgotten(sys, slotWord(sys, p >>> PAGE_SHIFT), p);
  } catch (e) {
    for (let q = start; q < p; q += PAGE_SIZE) addForgotten(sys, slotWord(sys, q >>> PAGE_SHIFT));
    throw e;
  }
}
