/**
 * The linked-list table: one LIST_WORDS-word entry per list in the region header (ids
 * 1..MAX_LISTS, from H_LISTS), and the three link words of each listed frame's slot. The protocol
 * half of `frame/linked-list.ts` (the kernel's `linked_list.rs`): nothing else writes these words,
 * nor the list journal.
 *
 *   entry:   gen (odd while the list exists) | lock owner | lock sleepers | front | back | size | type id
 *            | modification count
 *   slot:    next | prev | list id               (S_NEXT, S_PREV, S_LIST of region/meta.ts)
 *   journal: kind | list index | frame | prev | next | new size     (W_LOP of the worker record, journal.ts)
 *
 * A frame is named by its number, index + 1 (0: none), as the links hold it; a list by its
 * 0-based entry index (its id, which S_LIST holds, is index + 1).
 *
 * Who writes: the generation, by CAS in `claimList` (even to odd: of two creators one wins) and by
 * a store in `destroyList` (odd to even); the rest of a claimed entry, by its creator in
 * `initList`, before the list's handle leaves the worker; from then on the links, the size and the
 * modification count only by the holder of the entry's lock, and only through `linkFrame` /
 * `unlinkFrame` (`applyListOp`), which record the change in the list journal first, so
 * `repairList` can redo a change that a dead worker left half done. Every write in a change is
 * absolute, so redoing it is the same as doing it once, but for the modification count, which
 * every change (a redo too) bumps first.
 *
 * The modification count (`L_MOD`) is what makes a `CursorMut` fail-fast: a cursor holds no lock
 * between its calls; it remembers the count it saw (and the one its own changes left), and each
 * call compares it under the lock, so a change made by anything but the cursor itself makes it
 * stale. It is an Int32 that wraps around: a cursor that sleeps through exactly a multiple of 2^32
 * changes would be taken for fresh, which needs billions of changes between two of its calls.
 *
 * ORDER: `size` is the one link word read without the lock (`LinkedList.size`); it is stored with
 * `Atomics.store` after the links it counts. The modification count is read without the lock too
 * (a cursor's `current`); it is stored with `Atomics.store` before the first link write of a
 * change, so a worker that still loads the value it expects knows no change had begun when it
 * looked (verify/list.pml, BROKEN_MOD_LAST). The generation is read without the lock by every
 * call on a list (a destroyed list's handle is refused) and stored only with atomics.
 */
import { MAX_LISTS } from '../base/limits.js';
import { lock, lockOwner, forceRelease, unlock } from '../shm/lock.js';
import { H_LISTS, LIST_WORDS } from './geometry.js';
import { LOP_LINK, LOP_UNLINK, W_LOP } from './journal.js';
import { RC_UNIQUE, SLOT_SHIFT, S_LIST, S_NEXT, S_PREV, S_REF, S_TYPE } from './meta.js';
import type { Region } from './region.js';

/** The entry's generation: odd while a list uses it, bumped at create and at destroy, so that a
 *  handle of a destroyed list is refused. */
export const L_GEN = 0;

/** The list's lock (2 words: owner token, waiters). */
export const L_LOCK = 1;

/** First and last frame (index + 1; 0 when empty), the number of frames, the metadata type id. */
export const L_FRONT = 3;
export const L_BACK = 4;
export const L_SIZE = 5;
export const L_TYPE = 6;

/** The modification count: bumped by every change of the list's links (see the module's note). */
export const L_MOD = 7;

/** The list journal's words, from W_LOP of the worker's record. */
const J_KIND = 0; // LOP_LINK, LOP_UNLINK, or 0: no change in progress
const J_LIST = 1;
const J_FRAME = 2;
const J_PREV = 3;
const J_NEXT = 4;
const J_SIZE = 5;

/** What `linkRefusal` answers: the frame may enter the list, or the first reason it may not. */
export const LINK_OK = 0;

/** The frame is in a list already (its S_LIST is not 0). */
export const LINK_IN_LIST = 1;

/** The frame's metadata type is not the list's. */
export const LINK_WRONG_TYPE = 2;

/** The frame's count is not UNIQUE: only unique frames enter a list. */
export const LINK_NOT_UNIQUE = 3;

/** Word index of list `index`'s entry. */
export function entryWord(index: number): number {
  return H_LISTS + index * LIST_WORDS;
}

/** Word index of the slot of frame number `f`. */
function slotOf(r: Region, f: number): number {
  return r.metaWord + ((f - 1) << SLOT_SHIFT);
}

/**
 * Claims a free entry for a new list: its index, or -1 if all MAX_LISTS entries are in use. The
 * entry's generation is odd from here on (`listGen`); the caller then sets it up (`initList`) or
 * gives it back (`destroyList`).
 *
 * ORDER: one CAS from the even generation just read: of two workers claiming the same entry, one
 * wins and the other moves on to the next.
 */
export function claimList(r: Region): number {
  const i32 = r.i32;
  for (let index = 0; index < MAX_LISTS; index++) {
    const at = entryWord(index) + L_GEN;
    const gen = Atomics.load(i32, at);
    if ((gen & 1) !== 0) continue;
    if (Atomics.compareExchange(i32, at, gen, (gen + 1) | 0) === gen) return index;
  }
  return -1;
}

/** Makes the entry `index` this worker claimed an empty list of frames of type `typeId`. */
export function initList(r: Region, index: number, typeId: number): void {
  const i32 = r.i32;
  const e = entryWord(index);
  // OWNER: the claim made the entry this worker's, and no other worker has the list's handle yet
  // (it leaves by postMessage, which orders these writes before the receiver's reads).
  i32[e + L_FRONT] = 0;
  i32[e + L_BACK] = 0;
  i32[e + L_TYPE] = typeId;
  // ORDER: the count and the size are read without the lock; stored with atomics. The count may
  // start anywhere: a cursor of an earlier list in this entry is refused by the generation.
  Atomics.store(i32, e + L_MOD, 0);
  Atomics.store(i32, e + L_SIZE, 0);
}

/**
 * Ends the list of generation `gen` (odd) in entry `index`: the entry is free again, and every
 * handle of the list is refused from here on. The caller holds the list's lock and has emptied
 * the list, or has just claimed the entry and could not set it up.
 *
 * ORDER: stored after the list was emptied, so a worker that sees the entry free sees no frame
 * in it; `claimList` reads it with a CAS.
 */
export function destroyList(r: Region, index: number, gen: number): void {
  Atomics.store(r.i32, entryWord(index) + L_GEN, (gen + 1) | 0);
}

/** The generation of list `index`'s entry: odd while a list uses it. */
export function listGen(r: Region, index: number): number {
  return Atomics.load(r.i32, entryWord(index) + L_GEN);
}

/** The metadata type id of list `index`'s frames (written once, by `initList`). */
export function listTypeId(r: Region, index: number): number {
  return r.i32[entryWord(index) + L_TYPE];
}

/** Frames in list `index` now; the one count read without the lock (see the module's ORDER). */
export function listSize(r: Region, index: number): number {
  return Atomics.load(r.i32, entryWord(index) + L_SIZE);
}

/**
 * List `index`'s modification count now: a cursor compares it with the count it expects. Under
 * the list's lock it is exact; without it, a value that matches says that no change had begun
 * when it was read (see the module's ORDER note).
 */
export function listMod(r: Region, index: number): number {
  return Atomics.load(r.i32, entryWord(index) + L_MOD);
}

/** The first frame (number) of list `index`, 0 if it is empty. Read under the list's lock. */
export function listFront(r: Region, index: number): number {
  return r.i32[entryWord(index) + L_FRONT];
}

/** The last frame (number) of list `index`, 0 if it is empty. Read under the list's lock. */
export function listBack(r: Region, index: number): number {
  return r.i32[entryWord(index) + L_BACK];
}

/** The frame after frame `f` in its list, 0 if `f` is the last. Read under the list's lock. */
export function listedNext(r: Region, f: number): number {
  return r.i32[slotOf(r, f) + S_NEXT];
}

/** The frame before frame `f` in its list, 0 if `f` is the first. Read under the list's lock. */
export function listedPrev(r: Region, f: number): number {
  return r.i32[slotOf(r, f) + S_PREV];
}

/** The id of the list holding frame `f`, 0 if none (the kernel's `in_list`). */
export function listIdOf(r: Region, f: number): number {
  return r.i32[slotOf(r, f) + S_LIST];
}

/** Takes list `index`'s lock for this worker (`r.token`), waiting as long as it takes. */
export function lockList(r: Region, index: number): void {
  lock(r.i32, entryWord(index) + L_LOCK, r.token);
}

/** Gives list `index`'s lock back (its ORDER note is `unlock`'s, in shm/lock.ts). */
export function unlockList(r: Region, index: number): void {
  unlock(r.i32, entryWord(index) + L_LOCK);
}

/**
 * Whether frame `f` may enter list `index`: `LINK_OK`, or the first of `LINK_IN_LIST`,
 * `LINK_WRONG_TYPE`, `LINK_NOT_UNIQUE` that holds (in that order). The caller holds the frame.
 */
export function linkRefusal(r: Region, index: number, f: number): number {
  const i32 = r.i32;
  const w = slotOf(r, f);
  if (i32[w + S_LIST] !== 0) return LINK_IN_LIST;
  if (i32[w + S_TYPE] !== i32[entryWord(index) + L_TYPE]) return LINK_WRONG_TYPE;
  if (Atomics.load(i32, w + S_REF) !== RC_UNIQUE) return LINK_NOT_UNIQUE;
  return LINK_OK;
}

/**
 * Links frame `f` into list `index` before frame `next` (0: at the back), journaled. The caller
 * holds the list's lock and gives the list its unique frame (`linkRefusal` said `LINK_OK`).
 */
export function linkFrame(r: Region, index: number, f: number, next: number): void {
  const i32 = r.i32;
  const e = entryWord(index);
  const prev = next === 0 ? i32[e + L_BACK] : i32[slotOf(r, next) + S_PREV];
  journaled(r, LOP_LINK, index, f, prev, next, Atomics.load(i32, e + L_SIZE) + 1);
}

/**
 * Takes frame `f` out of list `index`, journaled. The caller holds the list's lock, and owns the
 * frame uniquely again once this returns.
 */
export function unlinkFrame(r: Region, index: number, f: number): void {
  const i32 = r.i32;
  const w = slotOf(r, f);
  journaled(r, LOP_UNLINK, index, f, i32[w + S_PREV], i32[w + S_NEXT], Atomics.load(i32, entryWord(index) + L_SIZE) - 1);
}

/** Journals one change in this worker's record, applies it, and clears the journal. */
function journaled(r: Region, kind: number, index: number, x: number, prev: number, next: number, size: number): void {
  const i32 = r.i32;
  const j = r.rec + W_LOP;
  // OWNER: this worker's record; only `repairList` reads it, once this worker has died.
  i32[j + J_LIST] = index;
  i32[j + J_FRAME] = x;
  i32[j + J_PREV] = prev;
  i32[j + J_NEXT] = next;
  i32[j + J_SIZE] = size;
  i32[j + J_KIND] = kind; // ORDER: the entry is whole before its kind makes it valid
  applyListOp(r, kind, index, x, prev, next, size);
  // ORDER: cleared once the change is whole. Before this, reclaim would put an unlinked frame
  // back in the list; after it, the frame is this worker's.
  i32[j + J_KIND] = 0;
}

/**
 * Applies a journaled list change (`LOP_LINK` or `LOP_UNLINK` of frame `x` between `prev` and
 * `next`, leaving `size` frames in list `index`). Every link write is absolute, so applying it
 * twice (a redo after a death) leaves the links as once; link and unlink with the same frame and
 * neighbours are inverse. The modification count goes up by one each time, a redo included, so
 * every cursor that saw the list before is stale after. The caller holds the list's lock, or is
 * `repairList` (the lock still names its dead holder, so no live worker has it).
 */
export function applyListOp(r: Region, kind: number, index: number, x: number, prev: number, next: number, size: number): void {
  const i32 = r.i32;
  const e = entryWord(index);
  const xw = slotOf(r, x);
  // ORDER: the count is read without the lock (a cursor's `current`): bumped before the first link
  // write, so a reader that still sees the value it expects knows that no change had begun.
  Atomics.store(i32, e + L_MOD, (i32[e + L_MOD] + 1) | 0);
  // OWNER: every write below is the lock holder's alone: the entry, and the slots of the frames
  // in the list (the list owns them) and of `x` (the caller's unique frame, or the list's).
  if (kind === LOP_LINK) {
    i32[xw + S_NEXT] = next;
    i32[xw + S_PREV] = prev;
    if (prev !== 0) i32[slotOf(r, prev) + S_NEXT] = x;
    else i32[e + L_FRONT] = x;
    if (next !== 0) i32[slotOf(r, next) + S_PREV] = x;
    else i32[e + L_BACK] = x;
    i32[xw + S_LIST] = index + 1;
  } else {
    if (prev !== 0) i32[slotOf(r, prev) + S_NEXT] = next;
    else i32[e + L_FRONT] = next;
    if (next !== 0) i32[slotOf(r, next) + S_PREV] = prev;
    else i32[e + L_BACK] = prev;
    i32[xw + S_NEXT] = 0;
    i32[xw + S_PREV] = 0;
    i32[xw + S_LIST] = 0;
  }
  // ORDER: the size is read without the lock: stored after the links it counts.
  Atomics.store(i32, e + L_SIZE, size);
}

/**
 * `reclaimWorker`'s step for list `index`: if the dead worker (record word `deadRec`, lock token
 * `deadToken`) held its lock, a change it journaled for this list is applied as a link (a link is
 * redone; an unlink undone), so the list is whole and keeps the frame rather than losing it with
 * the dead worker; then the lock is released. Whether the dead worker held the lock.
 *
 * The redo bumps the modification count (`applyListOp`), so every cursor that saw the list before
 * the dead worker's change is stale, whatever part of the change the dead worker had done. With
 * no change journaled the list is as the count says (a change is journaled before its first
 * write and cleared after its last), and the count is left alone: cursors of that state stay good.
 */
export function repairList(r: Region, index: number, deadRec: number, deadToken: number): boolean {
  const i32 = r.i32;
  const at = entryWord(index) + L_LOCK;
  if (lockOwner(i32, at) !== deadToken) return false;
  const j = deadRec + W_LOP;
  const kind = i32[j + J_KIND];
  if (kind !== 0 && i32[j + J_LIST] === index) {
    const size = kind === LOP_LINK ? i32[j + J_SIZE] : i32[j + J_SIZE] + 1;
    applyListOp(r, LOP_LINK, index, i32[j + J_FRAME], i32[j + J_PREV], i32[j + J_NEXT], size);
    // OWNER: the dead worker's record, written by the reclaimer only (the worker's id is not free
    // until its reclaim ends); cleared after the redo, which the lock still protects.
    i32[j + J_KIND] = 0;
  }
  return forceRelease(i32, at, deadToken);
}
