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
import { ContractError, GetFrameError } from '../base/errors.js';
import { PAGE_SHIFT, PAGE_SIZE, checkPaddr, type Paddr } from '../base/units.js';
import { dropRequiresFailed, ensureFromUnused, requireFromUnused } from '../checked/contracts.js';
import { OP_RAW, clearOp, recordOp } from '../region/journal.js';
import { DROP_DEALLOC, DROP_DONE, DROP_LAST_SLOW, RC_UNIQUE, RC_UNUSED, slotWord, addForgotten, claim, countOf, decRef, dropShared, isShared, notHeld, notUnused, publish, setType, stateName, storageByte, takeForgotten, unclaim } from '../region/meta.js';
import type { Region } from '../region/region.js';
import type { FrameContext } from './context.js';
import type { AnyInit, AnyMeta } from './meta-type.js';
import { checkMeta, typeIdOf } from './meta-type.js';


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
export function claimedTypeId(sys: FrameContext, w: number, type: AnyMeta): number {
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
 * Refuses a `fromUnused` of frames `[index, index + n)` if one of them is free in the allocator
 * (the default allocator's caches or buddy lists; a custom allocator is not asked), before
 * anything changes: `GetFrameError('Free')`, or `ContractError('from_unused_requires')` in
 * checked mode. Claiming it would leave it both held and free.
 */
export function refuseFree(sys: FrameContext, index: number, n: number): void {
  const free = sys._cache?.firstFree(index, n) ?? -1;
  if (free < 0) return;
  const paddr = free * PAGE_SIZE;
  if (sys.checked) throw new ContractError('from_unused_requires', paddr, 'the frame is free in the allocator, not owned raw');
  throw new GetFrameError('Free', paddr);
}

/**
 * `get_from_unused`: NotAligned / OutOfBound / InUse / Busy / Unique, or a published slot.
 * A bad `init` is reported before the slot is touched. Returns the slot word.
 */
export function getFromUnused(
  sys: FrameContext,
  paddr: Paddr,
  type: AnyMeta,
  init: AnyInit,
  unique: boolean,
): number {
  const index = checkPaddr(paddr, sys.maxPaddr);
  checkMeta(type);
  type._validate(init);
  refuseFree(sys, index, 1);
  const r = sys._region;
  const w = slotWord(sys._region, index);
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
export function dropOne(sys: FrameContext, w: number, paddr: Paddr): boolean {
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
export function dropRef(sys: FrameContext, w: number, paddr: Paddr): void {
  const status = dropShared(sys._region, w);
  if (status !== DROP_DONE) finishDrop(sys, w, paddr, status);
}

/** What `dropShared` left to do, by its status; then the journal entry ends (kept out of line). */
function finishDrop(sys: FrameContext, w: number, paddr: Paddr, status: number): void {
  const r = sys._region;
  try {
    if (status === DROP_DEALLOC) sys._dealloc(paddr, 1);
    else if (status === DROP_LAST_SLOW) sys._dropLast(w, true);
    else throw sys.checked ? dropRequiresFailed(paddr, countOf(r, w)) : notHeld(paddr, countOf(r, w));
  } finally {
    clearOp(r);
  }
}

/** The slot's count as the API reports it (unsigned: UNUSED and UNIQUE as in the kernel). */
export function loadRefCount(sys: FrameContext, w: number): number {
  return countOf(sys._region, w) >>> 0;
}

/**
 * The state check of every `fromRaw`: the slot must be held, shared (count 1..MAX) or, for a
 * unique frame, UNIQUE. Otherwise `from_raw_requires` fails (checked mode) or `NotHeld`.
 */
export function checkRawHeld(sys: FrameContext, w: number, paddr: Paddr, unique: boolean): void {
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
export function takeForgottenOrThrow(sys: FrameContext, w: number, paddr: Paddr): void {
  if (!takeForgotten(sys._region, w)) {
    throw new ContractError('from_raw_requires', paddr, 'no forgotten reference to restore (no matching intoRaw, or it was already restored)');
  }
}

/** `takeForgottenOrThrow` for every frame of `[start, end)`, all or none (checked mode). */
export function takeForgottenRun(sys: FrameContext, start: Paddr, end: Paddr): void {
  const r = sys._region;
  let p = start;
  try {
    for (; p < end; p += PAGE_SIZE) takeForgottenOrThrow(sys, slotWord(sys._region, p >>> PAGE_SHIFT), p);
  } catch (e) {
    for (let q = start; q < p; q += PAGE_SIZE) addForgotten(r, slotWord(sys._region, q >>> PAGE_SHIFT));
    throw e;
  }
}
