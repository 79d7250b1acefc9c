/**
 * Checked mode's contracts: the `requires`/`ensures` of the seed's Verus specifications (and its
 * siblings'), checked at run time against the slot in shared memory. Each check is called only
 * when `sys.checked`, and throws `ContractError` naming the contract and the frame.
 *
 * Only what no other worker can change under us is checked after an operation (a count may grow
 * by another worker's `fromInUse`, but a held frame's type or list tag cannot change).
 */
import { ContractError } from '../base/errors.js';
import { PAGE_SIZE, type Paddr } from '../base/units.js';
import { RC_UNIQUE, RC_UNUSED, addForgotten, countOf, dropForgotten, forgottenOf, isShared, listOf, stateName, storageIsClear, typeOf } from '../region/meta.js';
import type { Region } from '../region/region.js';
import { syncFrames } from '../region/header.js';

/**
 * `from_unused_requires`: the slot is UNUSED with a clean slot owner (in no list, no type, no
 * metadata), checked before the claim.
 */
export function requireFromUnused(r: Region, w: number, paddr: Paddr): void {
  if (countOf(r, w) !== RC_UNUSED) return; // the claim reports InUse / Busy / Unique
  if (listOf(r, w) !== 0) throw new ContractError('from_unused_requires', paddr, `unused but in_list is ${listOf(r, w)}`);
  if (typeOf(r, w) !== 0) throw new ContractError('from_unused_requires', paddr, `unused but has type id ${typeOf(r, w)}`);
  if (!storageIsClear(r, w)) throw new ContractError('from_unused_requires', paddr, 'unused but its metadata storage is not zero');
}

/**
 * `from_unused_ensures`: the frame is held (shared or UNIQUE as asked), with the type asked for,
 * in no list, with no forgotten reference.
 */
export function ensureFromUnused(r: Region, w: number, paddr: Paddr, unique: boolean, typeId: number): void {
  const rc = countOf(r, w);
  if (unique ? rc !== RC_UNIQUE : !isShared(rc)) {
    throw new ContractError('from_unused_ensures', paddr, `the frame is ${stateName(rc)}, not ${unique ? 'unique' : 'shared'}`);
  }
  if (typeOf(r, w) !== typeId) throw new ContractError('from_unused_ensures', paddr, `type id ${typeOf(r, w)}, not ${typeId}`);
  if (listOf(r, w) !== 0) throw new ContractError('from_unused_ensures', paddr, 'the new frame is in a list');
  if (forgottenOf(r, w) !== 0) throw new ContractError('from_unused_ensures', paddr, 'the new frame has forgotten references');
}

/**
 * `into_raw_requires` (and the `Undroppable` constructor's): the handle's reference is held and
 * not already forgotten: fewer forgotten references than references (a unique frame: none).
 * Then records the forgotten reference, and checks `into_raw_ensures`: the count is unchanged.
 */
export function forgetChecked(r: Region, w: number, paddr: Paddr, unique: boolean): void {
  const rc = countOf(r, w);
  if (unique ? rc !== RC_UNIQUE : !isShared(rc)) {
    throw new ContractError('into_raw_requires', paddr, `the frame is ${stateName(rc)}; the handle holds no reference`);
  }
  const forgotten = addForgotten(r, w);
  const after = countOf(r, w);
  // A shared count may have grown meanwhile (fromInUse elsewhere), never shrunk below ours.
  if (unique ? forgotten !== 1 || after !== RC_UNIQUE : forgotten > after || !isShared(after)) {
    dropForgotten(r, w);
    throw new ContractError('into_raw_ensures', paddr, `${forgotten} forgotten reference(s) for ${stateName(after)}`);
  }
}

/** `meta` (the `PointsTo` precondition): the slot is held and holds the handle's type. */
export function requireMeta(r: Region, w: number, paddr: Paddr, typeId: number, unique: boolean): void {
  const rc = countOf(r, w);
  if (unique ? rc !== RC_UNIQUE : !isShared(rc)) {
    throw new ContractError('meta_requires', paddr, `the frame is ${stateName(rc)}; its metadata is not the handle's`);
  }
  const id = typeOf(r, w);
  if (id !== typeId) throw new ContractError('meta_requires', paddr, `the slot holds type id ${id}, the handle type id ${typeId}`);
}

/** `start_paddr` / `Frame::inv`: the address is page-aligned and inside the region. */
export function requirePaddr(r: Region, paddr: Paddr): void {
  if (!(paddr < r.maxPaddr)) syncFrames(r); // a frame of a grow this worker has not seen yet
  if (!(paddr % PAGE_SIZE === 0 && paddr >= 0 && paddr < r.maxPaddr)) {
    throw new ContractError('start_paddr_requires', paddr, 'not a page-aligned address inside the region');
  }
}

/** Frame `drop`: the handle's reference is held (the kernel's debug assertion). */
export function dropRequiresFailed(paddr: Paddr, rc: number): ContractError {
  return new ContractError('drop_requires', paddr, `the frame is ${stateName(rc)}; the handle holds no reference`);
}

/** `drop_last_in_place` safety condition: busy, in no list. */
export function requireDropLast(r: Region, w: number, paddr: Paddr): void {
  const rc = countOf(r, w);
  if (rc !== 0) throw new ContractError('drop_last_in_place_requires', paddr, `the frame is ${stateName(rc)}, not busy`);
  if (listOf(r, w) !== 0) throw new ContractError('drop_last_in_place_requires', paddr, `the frame is in list ${listOf(r, w)}`);
}

/**
 * The unique frame's operations (`into_frame`, `repurpose`, `reset_as_unused`, `drop`): the slot
 * is UNIQUE and in no list.
 */
export function requireUnique(r: Region, w: number, paddr: Paddr, contract: string): void {
  const rc = countOf(r, w);
  if (rc !== RC_UNIQUE) throw new ContractError(contract, paddr, `the frame is ${stateName(rc)}, not unique`);
  if (listOf(r, w) !== 0) throw new ContractError(contract, paddr, `the frame is in list ${listOf(r, w)}`);
}

/** A linked list's change (`LinkedListOwner::inv` at the frame): tagged with the list while in
 *  it, untagged out of it, unique either way. */
export function ensureListTag(r: Region, w: number, paddr: Paddr, listId: number, contract: string): void {
  const rc = countOf(r, w);
  if (rc !== RC_UNIQUE) throw new ContractError(contract, paddr, `a listed frame is ${stateName(rc)}, not unique`);
  if (listOf(r, w) !== listId) throw new ContractError(contract, paddr, `in_list is ${listOf(r, w)}, not ${listId}`);
}
