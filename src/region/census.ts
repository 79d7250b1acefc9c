/**
 * The census of a region: the one read-only pass over its metadata slots, its deferred-drop
 * stack and its linked-list table. It says what each slot's words mean (its state, type, list,
 * forgotten references), counts the slots for `FrameSystem.stats()`, checks the region invariant
 * for `FrameSystem.checkInvariants()`, and reads each frame for the frame map
 * (`map/capture.ts`), so that none of them reads a word of its own.
 *
 *   a slot is  unused (RC_UNUSED, or a cached run's head) | busy (0) | shared (1..REF_COUNT_MAX) | unique (RC_UNIQUE)
 *              | illegal (any other count word: between REF_COUNT_MAX and REF_COUNT_UNIQUE)
 *
 * It takes no lock and writes nothing, so any worker may take a census at any moment; while
 * others work, what it sees is a racy snapshot (a slot may change as the scan passes it). The
 * checks are meant for a quiet region: a slot caught mid-operation is busy, and they say so.
 *
 * ORDER: each slot's count word is read with `Atomics.load` before its other words. A count is
 * published after the type and metadata it covers (meta.ts), so a slot seen held shows the type
 * it was published with, unless it changes again while the census reads it.
 */
import { InvariantError, hex } from '../base/errors.js';
import { MAX_LISTS, MAX_TYPES, REF_COUNT_MAX } from '../base/limits.js';
import { PAGE_SIZE } from '../base/units.js';
import { H_DEFER_HEAD, H_LISTS, LIST_WORDS } from './geometry.js';
import { L_BACK, L_FRONT, L_GEN, L_SIZE, L_TYPE } from './lists.js';
import {
  AUX_FREE,
  RC_UNIQUE,
  RC_UNUSED,
  isCachedHead,
  SLOT_SHIFT,
  SLOT_WORDS,
  S_AUX,
  S_LIST,
  S_NEXT,
  S_PREV,
  S_STORAGE,
  S_TYPE,
  stateName,
} from './meta.js';
import type { Region } from './region.js';
import { registeredCount } from './registry.js';

/** A slot's state, as its count word says it (see the module). */
export type SlotState = typeof SLOT_UNUSED | typeof SLOT_BUSY | typeof SLOT_SHARED | typeof SLOT_UNIQUE | typeof SLOT_ILLEGAL;

export const SLOT_UNUSED = 0;
export const SLOT_BUSY = 1;
export const SLOT_SHARED = 2;
export const SLOT_UNIQUE = 3;

/** A count word no transition writes: only a broken slot (or a stray write) holds one. */
export const SLOT_ILLEGAL = 4;

/** Word index of frame `k`'s slot. */
function slotAt(r: Region, k: number): number {
  return r.metaWord + (k << SLOT_SHIFT);
}

/** The state that count word `rc` says. */
export function stateOfCount(rc: number): SlotState {
  if (rc > 0) return rc <= REF_COUNT_MAX ? SLOT_SHARED : SLOT_ILLEGAL;
  if (rc === 0) return SLOT_BUSY;
  if (rc === RC_UNUSED || isCachedHead(rc)) return SLOT_UNUSED; // a cached run's head is unused too
  return rc === RC_UNIQUE ? SLOT_UNIQUE : SLOT_ILLEGAL;
}

/** The state of frame `k`'s slot now (one atomic load). */
export function slotState(r: Region, k: number): SlotState {
  return stateOfCount(Atomics.load(r.i32, slotAt(r, k)));
}

/**
 * One slot as the census reads it. `readSlot` fills one in place, so that a scan of every frame
 * makes no object per frame.
 */
export class SlotReading {
  state: SlotState = SLOT_UNUSED;
  /** The count word as stored (`RC_*` or a shared count; anything at all if illegal). */
  count = RC_UNUSED;
  /** The type id word: 0 while unused, a registered id while held, as left while busy. */
  type = 0;
  /** The id of the list holding the frame, 0 if none (the invariant: only a unique frame). */
  list = 0;
  /** Held, in checked mode: the references forgotten with `intoRaw`. 0 otherwise. */
  forgotten = 0;
  /** Unused: whether the buddy allocator marks the frame free (`AUX_FREE`). */
  freeMark = false;
}

/** Reads frame `k`'s slot into `into` and returns it. */
export function readSlot(r: Region, k: number, into: SlotReading): SlotReading {
  const i32 = r.i32;
  const w = slotAt(r, k);
  const rc = Atomics.load(i32, w);
  const state = stateOfCount(rc);
  const aux = i32[w + S_AUX];
  into.state = state;
  into.count = rc;
  into.type = i32[w + S_TYPE];
  into.list = i32[w + S_LIST];
  // S_AUX means one thing per state (meta.ts): forgotten references only in a held slot, and
  // only checked mode records them; the free mark only in an unused one.
  into.forgotten = r.checked && (state === SLOT_SHARED || state === SLOT_UNIQUE) ? aux : 0;
  into.freeMark = state === SLOT_UNUSED && (aux & AUX_FREE) !== 0;
  return into;
}

/** The slots of a region counted by state, and the held ones by type id (`countSlots`). */
export interface SlotCounts {
  readonly unused: number;
  readonly busy: number;
  readonly shared: number;
  readonly unique: number;
  readonly illegal: number;
  /**
   * Held (shared or unique) slots by type id, at indices 1..MAX_TYPES. A held slot whose type
   * word is no id at all (a broken slot) is in no entry.
   */
  readonly byType: Int32Array;
}

/**
 * Counts the slots of every frame by state, and the held ones by type id: one linear scan with
 * one atomic load per slot, and nothing made per slot. Type ids only: names are the registry's
 * (`FrameSystem.stats()` maps them).
 */
export function countSlots(r: Region): SlotCounts {
  const i32 = r.i32;
  // Every id a type could have, not just those registered when the scan began: a type
  // registered meanwhile in another worker is counted too.
  const byType = new Int32Array(MAX_TYPES + 1);
  let unused = 0;
  let busy = 0;
  let shared = 0;
  let unique = 0;
  let illegal = 0;
  const end = slotAt(r, r.nframes);
  for (let w = r.metaWord; w < end; w += SLOT_WORDS) {
    const state = stateOfCount(Atomics.load(i32, w));
    if (state === SLOT_UNUSED) unused++;
    else if (state === SLOT_BUSY) busy++;
    else if (state === SLOT_ILLEGAL) illegal++;
    else {
      if (state === SLOT_UNIQUE) unique++;
      else shared++;
      const id = i32[w + S_TYPE];
      if (id >= 1 && id <= MAX_TYPES) byType[id]++;
    }
  }
  return { unused, busy, shared, unique, illegal, byType };
}

/**
 * The frames (indices) on the deferred-drop stack, walked from its head through the `S_NEXT`
 * links. Throws `InvariantError` ('deferred-drop stack') for a link out of the region or a
 * cycle, either of which would leave frames busy forever.
 */
export function deferredFrames(r: Region): Set<number> {
  const i32 = r.i32;
  const found = new Set<number>();
  for (let link = Atomics.load(i32, H_DEFER_HEAD); link !== 0; link = i32[slotAt(r, link - 1) + S_NEXT]) {
    const k = link - 1;
    if (k < 0 || k >= r.nframes) throw new InvariantError('deferred-drop stack', `a link out of the region (${link})`);
    if (found.has(k)) throw new InvariantError('deferred-drop stack', 'the stack has a cycle');
    found.add(k);
  }
  return found;
}

/** The error of `checkSlots` for frame `k`'s slot (its message made only when one is thrown). */
function brokenSlot(k: number, why: string): InvariantError {
  return new InvariantError(`slot of frame ${hex(k * PAGE_SIZE)}`, why);
}

/**
 * Checks every slot against the region invariant (the seed's `MetaRegionOwners::inv`) and
 * throws `InvariantError` at the first slot that breaks it, naming the frame. A slot is exactly
 * one of: UNUSED with no type, no list and zero storage; shared (1..REF_COUNT_MAX) with a
 * registered type and in no list; UNIQUE with a registered type; busy (0) only while on the
 * deferred-drop stack (`deferred`, from `deferredFrames`). A held slot's forgotten references
 * never outnumber its references, and unchecked mode records none.
 */
export function checkSlots(r: Region, deferred: ReadonlySet<number>): void {
  const i32 = r.i32;
  const ntypes = registeredCount(r);
  for (let k = 0; k < r.nframes; k++) {
    const w = slotAt(r, k);
    const rc = Atomics.load(i32, w);
    const state = stateOfCount(rc);
    const type = i32[w + S_TYPE];
    if (state === SLOT_UNUSED) {
      if (type !== 0) throw brokenSlot(k, `UNUSED but has type id ${type}`);
      if (i32[w + S_LIST] !== 0) throw brokenSlot(k, 'UNUSED but in a list');
      for (let s = S_STORAGE; s < SLOT_WORDS; s++) {
        if (i32[w + s] !== 0) throw brokenSlot(k, 'UNUSED but its metadata storage is not zero');
      }
    } else if (state === SLOT_BUSY) {
      if (!deferred.has(k)) throw brokenSlot(k, 'busy outside an operation');
    } else if (state === SLOT_ILLEGAL) {
      throw brokenSlot(k, `illegal reference count ${rc >>> 0} (between REF_COUNT_MAX and REF_COUNT_UNIQUE)`);
    } else {
      const unique = state === SLOT_UNIQUE;
      if (type < 1 || type > ntypes) throw brokenSlot(k, `held (${stateName(rc)}) with unregistered type id ${type}`);
      if (!unique && i32[w + S_LIST] !== 0) throw brokenSlot(k, 'shared but in a list');
      // Forgotten references (checked mode's dropped_slots) are references: never more of them.
      const forgotten = i32[w + S_AUX];
      const limit = !r.checked ? 0 : unique ? 1 : rc;
      if (forgotten < 0 || forgotten > limit) {
        throw brokenSlot(k, `${forgotten} forgotten reference(s) for ${stateName(rc)}${r.checked ? '' : ' (unchecked mode records none)'}`);
      }
    }
  }
}

/** A linked list alive now, as its entry in the list table says (`liveLists`). */
export interface ListEntry {
  readonly id: number;
  /** Its first and last frame (index + 1; 0 when empty). */
  readonly front: number;
  readonly back: number;
  /** The entry's size word: the number of frames, if the list is whole. */
  readonly size: number;
  /** The metadata type id of its frames. */
  readonly type: number;
}

/** The linked lists alive now, by id (an odd generation marks an entry in use). */
export function liveLists(r: Region): ListEntry[] {
  const i32 = r.i32;
  const out: ListEntry[] = [];
  for (let index = 0; index < MAX_LISTS; index++) {
    const e = H_LISTS + index * LIST_WORDS;
    if ((Atomics.load(i32, e + L_GEN) & 1) === 0) continue;
    out.push({ id: index + 1, front: i32[e + L_FRONT], back: i32[e + L_BACK], size: i32[e + L_SIZE], type: i32[e + L_TYPE] });
  }
  return out;
}

/**
 * Checks the linked lists against their slots and throws `InvariantError` at the first break:
 * each list's links stay in the region without a cycle, its frames are unique, of its type, and
 * tagged with its id, its prev links mirror its next links, its back is its last frame and its
 * size its length; and no frame outside a list is tagged with one.
 */
export function checkLists(r: Region): void {
  const i32 = r.i32;
  let listed = 0;
  for (const { id, front, back, size, type } of liveLists(r)) {
    let prev = 0;
    let n = 0;
    for (let f = front; f !== 0; f = i32[slotAt(r, f - 1) + S_NEXT]) {
      if (f < 1 || f > r.nframes || ++n > r.nframes) throw new InvariantError(`linked list ${id}`, 'broken links (out of the region, or a cycle)');
      const where = `linked list ${id}, frame ${hex((f - 1) * PAGE_SIZE)}`;
      const w = slotAt(r, f - 1);
      if (Atomics.load(i32, w) !== RC_UNIQUE) throw new InvariantError(where, 'in a list but not unique');
      if (i32[w + S_LIST] !== id) throw new InvariantError(where, `its in_list says ${i32[w + S_LIST]}`);
      if (i32[w + S_PREV] !== prev) throw new InvariantError(where, 'prev link does not match the list');
      if (i32[w + S_TYPE] !== type) throw new InvariantError(where, 'not of the list\'s metadata type');
      prev = f;
    }
    if (back !== prev) throw new InvariantError(`linked list ${id}`, 'its back is not its last frame');
    if (size !== n) throw new InvariantError(`linked list ${id}`, `size says ${size}, the links hold ${n}`);
    listed += n;
  }
  let tagged = 0;
  for (let k = 0; k < r.nframes; k++) if (i32[slotAt(r, k) + S_LIST] !== 0) tagged++;
  if (tagged !== listed) throw new InvariantError('linked lists', `${tagged} frames name a list, the lists hold ${listed}`);
}

/**
 * The region's part of `FrameSystem.checkInvariants()`: the deferred-drop stack, then every
 * slot, then the linked lists (the allocator checks its own part). Throws `InvariantError` at
 * the first break. Meant for a quiet region (see the module).
 */
export function checkRegion(r: Region): void {
  checkSlots(r, deferredFrames(r));
  checkLists(r);
}
