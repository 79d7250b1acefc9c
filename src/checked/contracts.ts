/**
 * Checked mode's contracts: the `requires`/`ensures` of the seed's Verus specifications (and its
 * siblings'), checked at run time against the slot in shared memory. Each check is called only
 * when `sys.checked`, and throws `ContractError` naming the contract and the frame.
 *
 * Only what no other worker can change under us is checked after an operation (a count may grow
 * by another worker's `fromInUse`, but a held frame's type or list tag cannot change).
 */
import { ContractError } from '../base/errors.js';
import { PAGE_SIZE } from '../base/units.js';
import { RC_UNIQUE, RC_UNUSED, S_AUX, S_LIST, S_STORAGE, S_TYPE, SLOT_WORDS, stateName } from '../region/meta.js';
import { REF_COUNT_MAX } from '../base/limits.js';
import type { Paddr } from '../base/units.js';
import type { SlotHost } from '../frame/meta.js';

function rcOf(sys: SlotHost, w: number): number {
  return Atomics.load(sys._region.mem.i32, w);
}

function isShared(rc: number): boolean {
  return rc >= 1 && rc <= REF_COUNT_MAX;
}

/**
 * `from_unused_requires`: the slot is UNUSED with a clean slot owner (in no list, no type, no
 * metadata), checked before the claim.
 */
export function requireFromUnused(sys: SlotHost, w: number, paddr: Paddr): void {
  const i32 = sys._region.mem.i32;
  if (rcOf(sys, w) !== RC_UNUSED) return; // the claim reports InUse / Busy / Unique
  if (i32[w + S_LIST] !== 0) throw new ContractError('from_unused_requires', paddr, `unused but in_list is ${i32[w + S_LIST]}`);
  if (i32[w + S_TYPE] !== 0) throw new ContractError('from_unused_requires', paddr, `unused but has type id ${i32[w + S_TYPE]}`);
  for (let s = S_STORAGE; s < SLOT_WORDS; s++) {
    if (i32[w + s] !== 0) throw new ContractError('from_unused_requires', paddr, 'unused but its metadata storage is not zero');
  }
}

/**
 * `from_unused_ensures`: the frame is held (shared or UNIQUE as asked), with the type asked for,
 * in no list, with no forgotten reference.
 */
export function ensureFromUnused(sys: SlotHost, w: number, paddr: Paddr, unique: boolean, typeId: number): void {
  const i32 = sys._region.mem.i32;
  const rc = rcOf(sys, w);
  if (unique ? rc !== RC_UNIQUE : !isShared(rc)) {
    throw new ContractError('from_unused_ensures', paddr, `the frame is ${stateName(rc)}, not ${unique ? 'unique' : 'shared'}`);
  }
  if (i32[w + S_TYPE] !== typeId) throw new ContractError('from_unused_ensures', paddr, `type id ${i32[w + S_TYPE]}, not ${typeId}`);
  if (i32[w + S_LIST] !== 0) throw new ContractError('from_unused_ensures', paddr, 'the new frame is in a list');
  if (i32[w + S_AUX] !== 0) throw new ContractError('from_unused_ensures', paddr, 'the new frame has forgotten references');
}

/**
 * `into_raw_requires` (and the `Undroppable` constructor's): the handle's reference is held and
 * not already forgotten: fewer forgotten references than references (a unique frame: none).
 * Then records the forgotten reference, and checks `into_raw_ensures`: the count is unchanged.
 */
export function forgetChecked(sys: SlotHost, w: number, paddr: Paddr, unique: boolean): void {
  const i32 = sys._region.mem.i32;
  const rc = rcOf(sys, w);
  if (unique ? rc !== RC_UNIQUE : !isShared(rc)) {
    throw new ContractError('into_raw_requires', paddr, `the frame is ${stateName(rc)}; the handle holds no reference`);
  }
  const forgotten = Atomics.add(i32, w + S_AUX, 1) + 1;
  const after = rcOf(sys, w);
  // A shared count may have grown meanwhile (fromInUse elsewhere), never shrunk below ours.
  if (unique ? forgotten !== 1 || after !== RC_UNIQUE : forgotten > after || !isShared(after)) {
    Atomics.sub(i32, w + S_AUX, 1);
    throw new ContractError('into_raw_ensures', paddr, `${forgotten} forgotten reference(s) for ${stateName(after)}`);
  }
}

/** `meta` (the `PointsTo` precondition): the slot is held and holds the handle's type. */
export function requireMeta(sys: SlotHost, w: number, paddr: Paddr, typeId: number, unique: boolean): void {
  const rc = rcOf(sys, w);
  if (unique ? rc !== RC_UNIQUE : !isShared(rc)) {
    throw new ContractError('meta_requires', paddr, `the frame is ${stateName(rc)}; its metadata is not the handle's`);
  }
  const id = sys._region.mem.i32[w + S_TYPE];
  if (id !== typeId) throw new ContractError('meta_requires', paddr, `the slot holds type id ${id}, the handle type id ${typeId}`);
}

/** `start_paddr` / `Frame::inv`: the address is page-aligned and inside the region. */
export function requirePaddr(sys: SlotHost, paddr: Paddr): void {
  if (!(paddr % PAGE_SIZE === 0 && paddr >= 0 && paddr < sys.maxPaddr)) {
    throw new ContractError('start_paddr_requires', paddr, 'not a page-aligned address inside the region');
  }
}

/** Frame `drop`: the handle's reference is held (the kernel's debug assertion). */
export function dropRequiresFailed(paddr: Paddr, rc: number): ContractError {
  return new ContractError('drop_requires', paddr, `the frame is ${stateName(rc)}; the handle holds no reference`);
}

/** `drop_last_in_place` safety condition: busy, in no list. */
export function requireDropLast(sys: SlotHost, w: number, paddr: Paddr): void {
  const i32 = sys._region.mem.i32;
  const rc = rcOf(sys, w);
  if (rc !== 0) throw new ContractError('drop_last_in_place_requires', paddr, `the frame is ${stateName(rc)}, not busy`);
  if (i32[w + S_LIST] !== 0) throw new ContractError('drop_last_in_place_requires', paddr, `the frame is in list ${i32[w + S_LIST]}`);
}

/**
 * The unique frame's operations (`into_frame`, `repurpose`, `reset_as_unused`, `drop`): the slot
 * is UNIQUE and in no list.
 */
export function requireUnique(sys: SlotHost, w: number, paddr: Paddr, contract: string): void {
  const i32 = sys._region.mem.i32;
  const rc = rcOf(sys, w);
  if (rc !== RC_UNIQUE) throw new ContractError(contract, paddr, `the frame is ${stateName(rc)}, not unique`);
  if (i32[w + S_LIST] !== 0) throw new ContractError(contract, paddr, `the frame is in list ${i32[w + S_LIST]}`);
}

/** A linked list's change (`LinkedListOwner::inv` at the frame): tagged with the list while in
 *  it, untagged out of it, unique either way. */
export function ensureListTag(sys: SlotHost, w: number, paddr: Paddr, listId: number, contract: string): void {
  const i32 = sys._region.mem.i32;
  const rc = rcOf(sys, w);
  if (rc !== RC_UNIQUE) throw new ContractError(contract, paddr, `a listed frame is ${stateName(rc)}, not unique`);
  if (i32[w + S_LIST] !== listId) throw new ContractError(contract, paddr, `in_list is ${i32[w + S_LIST]}, not ${listId}`);
}
