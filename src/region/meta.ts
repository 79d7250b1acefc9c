/**
 * The `MetaSlot`: 16 words a frame, in the metadata region. The first 6 are pageframe's; the
 * last 10 (40 bytes) are the metadata storage, 8-byte aligned, so a `f64`/`u64` field is
 * naturally aligned.
 *
 *   slot: count | type id | list id | next | prev (owner) | aux | storage × 10
 */
import { FrameUseError, GetFrameError, hex } from '../base/errors.js';
import { META_SLOT_SIZE, REF_COUNT_MAX } from '../base/limits.js';
import { PAGE_SHIFT, type Paddr } from '../base/units.js';
import { OP_DROP, clearOp, recordOp } from './journal.js';
import type { FastPath, Region } from './region.js';
import { hasOnDrop } from './registry.js';

/**
 * The same states as stored in the slot's `Int32` word (JavaScript `Atomics` on `Int32Array`
 * keep small counts as small integers, which is what makes them fast). Busy is 0 in both.
 */
export const RC_UNUSED = -1;
export const RC_UNIQUE = -2;

/**
 * The count word of the first frame of a run of `k` (1..4) free frames in worker `worker`'s cache
 * (`cachedHead`): UNUSED to the kernel's state machine (nobody holds the frame), but marked so
 * that the cache's owner and any other worker that takes the run (a steal before NoMemory,
 * `reclaimWorker`) do it with one CAS from this exact value: whoever wins the CAS has the whole
 * run, and a stack entry whose frame has left the cache since (stolen, or taken and cached again
 * elsewhere) no longer matches. The other frames of the run stay `RC_UNUSED`.
 * Encoded as `-(RC_CACHED_TAG | k << 7 | worker)`: -0x1081 .. -0x127f.
 */
export const RC_CACHED_TAG = 0x1000;
const CACHED_MASK = ~0x3ff;

/** The count word of the head of a cached run of `k` frames in worker `worker`'s cache. */
export function cachedHead(worker: number, k: number): number {
  return -(RC_CACHED_TAG | (k << 7) | worker);
}

/** Whether count word `rc` is the head of a cached run (`cachedHead`). */
export function isCachedHead(rc: number): boolean {
  return rc < 0 && ((-rc) & CACHED_MASK) === RC_CACHED_TAG;
}

/** The worker whose cache holds the run headed by count word `rc` (a `cachedHead`). */
export function cachedWorker(rc: number): number {
  return -rc & 0x7f;
}

/** The length of the run headed by count word `rc` (a `cachedHead`). */
export function cachedRun(rc: number): number {
  return (-rc >> 7) & 7;
}
export const SLOT_WORDS = META_SLOT_SIZE / 4;
export const SLOT_SHIFT = 4; // log2(SLOT_WORDS)

/** The atomic reference count (see `RC_*`). */
export const S_REF = 0;

/** The registered metadata type id (0 while unused): the kernel's vtable pointer. */
export const S_TYPE = 1;

/** The id of the linked list holding the frame, 0 if none: the kernel's `in_list`. */
export const S_LIST = 2;

/** Link words: list next/prev while in a list; the buddy allocator's free-list links while the
 *  frame heads a free chunk (both are exclusive: a free frame is unused, a listed one unique);
 *  `S_NEXT` links the deferred-drop stack. While the slot is busy, and after a teardown until
 *  the frame is given back, `S_PREV` records the worker that made it so (`S_OWNER`), which is how
 *  `reclaimWorker` tells the frames a dead worker left half done from other workers' work. */
export const S_NEXT = 3;
export const S_PREV = 4;
export const S_OWNER = S_PREV;

/** Auxiliary word. While the frame is free in the buddy allocator: `AUX_FREE`, and on the head
 *  frame of a free chunk also `AUX_HEAD | order`. While the slot is held in checked mode: the
 *  number of forgotten references (`intoRaw`). While busy on the deferred-drop stack: 1 if the
 *  frame goes back to the allocator after its teardown. Otherwise 0. */
export const S_AUX = 5;

/** First word of the 40-byte metadata storage. */
export const S_STORAGE = 6;
export const STORAGE_BYTE_OFFSET = S_STORAGE * 4;

/** Flag in `S_AUX` of every frame free in the buddy allocator (the ground truth it is rebuilt
 *  from when a worker died inside it). */
export const AUX_FREE = 0x4000_0000;

/** Flag in `S_AUX` of the head frame of a free chunk; the low bits hold the chunk's order. */
export const AUX_HEAD = 0x2000_0000;
export const AUX_ORDER_MASK = 0xff;

// ---------------------------------------------------------------------------------------------
// The state machine: every transition of a slot's count is one function below (the kernel's
// `meta.rs`). The handles, the allocation path, segments, unique frames and reclaim call these;
// where the region has a WebAssembly fast path (`fast-path.ts`), the function chooses it.
//
//   UNUSED --claim (CAS)--> 0 (busy) --publish--> 1 | UNIQUE
//   n --incRef / getFromInUse--> n+1;  n --decRef--> n-1;  1 --decRef (last)--> 0 --clearSlot--> UNUSED
//   1 --toUnique (CAS)--> UNIQUE --publish--> 1;  UNIQUE --beginUniqueDrop--> 0 --clearSlot--> UNUSED
//   UNUSED (a run's first frame) --cached (region/workers.ts)--> cachedHead(w, k)
//   cachedHead(w, k) --the cache's pop (CAS)--> 0 (busy, claimed) | UNUSED (raw)
//   cachedHead(v, k) --a steal or reclaimWorker (CAS)--> cachedHead(t, k) / UNUSED --> the buddy allocator
//
// JavaScript atomics are sequentially consistent, so each `ORDER:` note names the happens-before
// edge that the kernel gets from its Acquire/Release pair. `OWNER:` notes say who may write a
// word without an atomic, and why no other worker can be writing it then.
// ---------------------------------------------------------------------------------------------

// The statuses of the transitions that may leave work to the caller (shared with fast-path.ts).
/** What `drop` left to do (see `dropRef`). */
export const DROP_DONE = 0;
/** The last reference of a type with an `onDrop` (or unknown): the slot is busy, journaled. */
export const DROP_LAST_SLOW = 1;
/** Torn down, UNUSED, but the cache is full: deallocate it, end the journal. */
export const DROP_DEALLOC = 2;
/** The frame was not held (the count is unchanged): end the journal, report `NotHeld`. */
export const DROP_NOT_HELD = 3;

/** `dropRun`'s code for a frame that still has references after its decrement. */
export const RUN_KEPT = 2;

/** Word index of the slot of frame `index`. */
export function slotWord(r: Region, index: number): number {
  return r.metaWord + (index << SLOT_SHIFT);
}

/** The frame index of the slot at word `w`. */
export function slotIndex(r: Region, w: number): number {
  return (w - r.metaWord) >> SLOT_SHIFT;
}

/** The paddr of the slot at word `w`. */
export function slotPaddr(r: Region, w: number): Paddr {
  return ((w - r.metaWord) >> SLOT_SHIFT) << PAGE_SHIFT >>> 0;
}

/** Byte address of the metadata storage of the slot at word `w`. */
export function storageByte(w: number): number {
  return (w << 2) + STORAGE_BYTE_OFFSET;
}

/** A slot's count word as a word, for messages. */
export function stateName(rc: number): string {
  if (isCachedHead(rc)) return `cached (worker ${cachedWorker(rc)}, a run of ${cachedRun(rc)})`;
  return rc === RC_UNUSED ? 'unused' : rc === RC_UNIQUE ? 'unique' : rc === 0 ? 'busy' : `count ${rc >>> 0}`;
}

/** Whether a count word says the slot is shared (1..REF_COUNT_MAX references). */
export function isShared(rc: number): boolean {
  return rc >= 1 && rc <= REF_COUNT_MAX;
}

/** The count word of the slot at `w` (an atomic load: a snapshot). */
export function countOf(r: Region, w: number): number {
  return r.at.load(w);
}

/** The type id of the slot at `w` (0 while unused). A plain read: a held slot's type is fixed. */
export function typeOf(r: Region, w: number): number {
  return r.i32[w + S_TYPE];
}

/** The id of the list holding the slot at `w` (0: none). */
export function listOf(r: Region, w: number): number {
  return r.i32[w + S_LIST];
}

/** The worker named the owner of the slot at `w` (`S_OWNER`): whose setup or teardown a busy slot is. */
export function ownerOf(r: Region, w: number): number {
  return r.i32[w + S_OWNER];
}

/** Whether the metadata storage of the slot at `w` is all zero (as an UNUSED slot's must be). */
export function storageIsClear(r: Region, w: number): boolean {
  for (let k = w + S_STORAGE; k < w + SLOT_WORDS; k++) if (r.i32[k] !== 0) return false;
  return true;
}

/**
 * Whether the slot at `w` is clean: in no list, no type, metadata storage all zero (what
 * `from_unused_requires` asks of an unused slot besides its count). Plain reads: the slot is
 * unused or cached, so no other worker writes it before taking it with a CAS.
 */
export function slotIsClean(r: Region, w: number): boolean {
  return r.i32[w + S_LIST] === 0 && r.i32[w + S_TYPE] === 0 && storageIsClear(r, w);
}

/** The error `fromUnused` reports for a slot whose count was `rc` instead of UNUSED. */
export function notUnused(rc: number, paddr: Paddr): GetFrameError {
  if (isCachedHead(rc)) return new GetFrameError('Free', paddr);
  return new GetFrameError(rc === RC_UNIQUE ? 'Unique' : rc === 0 ? 'Busy' : 'InUse', paddr);
}

/** The error for a drop or clone of a slot whose count says nobody holds it. */
export function notHeld(paddr: Paddr, rc: number): FrameUseError {
  return new FrameUseError('NotHeld', `frame ${hex(paddr)} is ${stateName(rc)}; no shared reference is held`);
}

function overflow(paddr: Paddr, rc: number): FrameUseError {
  return new FrameUseError('Overflow', `frame ${hex(paddr)} has ${rc >>> 0} references; at most ${REF_COUNT_MAX}`);
}

/**
 * Claims the unused slot at `w` (CAS UNUSED → 0, the kernel's `get_from_unused` first step).
 * Returns `RC_UNUSED` if it was claimed, else the count found (nothing changed: see `notUnused`).
 *
 * OWNER: `S_OWNER` names the worker answerable for a busy or in-flight slot, and is written by
 * that worker *before* the transition that makes it so (the allocator writes it when it hands a
 * frame out, a drop before its decrement), so a worker that dies right after the transition is
 * found by `reclaimWorker`. Only a claim of a raw frame writes it after (the frame was the
 * caller's alone, journaled `OP_RAW`).
 */
export function claim(r: Region, w: number): number {
  const rc = r.at.cas(w, RC_UNUSED, 0);
  if (rc === RC_UNUSED) r.i32[w + S_OWNER] = r.workerId;
  return rc;
}

/** OWNER: writes the type id of a claimed (busy) slot, this worker's alone. */
export function setType(r: Region, w: number, typeId: number): void {
  r.i32[w + S_TYPE] = typeId;
}

/**
 * Undoes `claim` (and what was written since: type, storage) on a slot nobody else can see yet
 * (count still 0). ORDER: the slot is cleared before the store that makes it UNUSED.
 */
export function unclaim(r: Region, w: number): void {
  const i32 = r.i32;
  for (let k = w + S_STORAGE; k < w + SLOT_WORDS; k++) i32[k] = 0;
  i32[w + S_TYPE] = 0;
  Atomics.store(i32, w, RC_UNUSED);
}

/**
 * Publishes a claimed slot: count 1, or UNIQUE (and `UniqueFrame.intoFrame`: UNIQUE → 1).
 * ORDER: the metadata was written before this store; a worker that sees the count (an atomic
 * load or CAS of this word) sees the metadata.
 */
export function publish(r: Region, w: number, unique: boolean): void {
  r.at.store(w, unique ? RC_UNIQUE : 1);
}

/**
 * Claims the `n` slots from word `first`, each as `claim` + `setType(typeId)`, all or none:
 * returns `n`, or the position of the first slot that was not UNUSED (the ones before it are
 * unclaimed again; see `notUnused` with `countOf`). The WebAssembly fast path does the same
 * steps in one call.
 */
export function claimRun(r: Region, first: number, n: number, typeId: number): number {
  const fast = r.fast;
  if (fast !== undefined) return fast.claimRun(first, n, typeId);
  const i32 = r.i32;
  const at = r.at;
  const id = r.workerId;
  const last = first + n * SLOT_WORDS;
  for (let w = first; w < last; w += SLOT_WORDS) {
    if (at.cas(w, RC_UNUSED, 0) !== RC_UNUSED) {
      for (let v = first; v < w; v += SLOT_WORDS) {
        i32[v + S_TYPE] = 0;
        at.store(v, RC_UNUSED); // ORDER: cleared before UNUSED, as `unclaim`
      }
      return (w - first) / SLOT_WORDS;
    }
    i32[w + S_OWNER] = id; // OWNER: as `claim`
    i32[w + S_TYPE] = typeId; // OWNER: busy, this worker's alone
  }
  return n;
}

/** `publish` of the `n` claimed slots from word `first`, with count `value` (1 or RC_UNIQUE). */
export function publishRun(r: Region, first: number, n: number, value = 1): void {
  const fast = r.fast;
  if (fast !== undefined) {
    fast.publishRun(first, n, value);
    return;
  }
  for (let w = first, end = first + n * SLOT_WORDS; w < end; w += SLOT_WORDS) r.at.store(w, value); // ORDER: as `publish`
}

/**
 * `get_from_in_use`: adds a reference to a shared frame. Unused / Unique / Busy as the kernel;
 * a count at REF_COUNT_MAX is an `Overflow` error (the kernel aborts).
 * ORDER: the successful CAS reads the count published after the metadata was written.
 */
export function getFromInUse(r: Region, w: number, paddr: Paddr): void {
  const at = r.at;
  for (;;) {
    const rc = at.load(w);
    if (rc === RC_UNUSED || isCachedHead(rc)) throw new GetFrameError('Unused', paddr);
    if (rc === RC_UNIQUE) throw new GetFrameError('Unique', paddr);
    if (rc === 0) throw new GetFrameError('Busy', paddr);
    if (rc >= REF_COUNT_MAX || rc < 0) throw overflow(paddr, rc);
    if (at.cas(w, rc, rc + 1) === rc) return;
  }
}

/**
 * Adds one reference to a frame the caller holds (the kernel's `inc_ref_count`). Past
 * REF_COUNT_MAX the increment is undone and `Overflow` thrown (the kernel aborts); a slot that
 * is not held is `NotHeld`, unchanged.
 *
 * ORDER: one atomic add (the kernel's `fetch_add`); the holder's reference keeps the slot held, so
 * the count cannot reach 0 meanwhile. The undo is an atomic sub of exactly what was added.
 */
export function incRef(r: Region, w: number, paddr: Paddr): void {
  const old = r.at.add(w, 1);
  if (old >= REF_COUNT_MAX || old <= 0) {
    r.at.sub(w, 1);
    if (old <= 0) throw notHeld(paddr, old);
    throw overflow(paddr, old);
  }
}

/**
 * Drops one shared reference. Returns the count before: 1 means it was the last one (the slot
 * is then busy, owned by this worker: tear it down), more than 1 that others remain; anything
 * else (not `isShared`) that the slot is not held, and nothing changed.
 *
 * OWNER: only the holder of the last reference names itself in `S_OWNER`, right before the CAS
 * that makes the slot busy. (Every dropper writing it before a decrement let a dropper whose
 * decrement was not the last overwrite the name of the one whose was: a worker that died after
 * that decrement left a busy slot that reclaim judged another's. Found by the SPIN model,
 * verify/slot.pml.)
 */
export function decRef(r: Region, w: number): number {
  const at = r.at;
  for (;;) {
    const old = at.load(w);
    if (old < 1 || old > REF_COUNT_MAX) return old;
    if (old === 1) r.i32[w + S_OWNER] = r.workerId;
    if (at.cas(w, old, old - 1) === old) return old;
  }
}

/**
 * `UniqueFrame.tryFrom`: count 1 → UNIQUE, if the caller's reference is the only one. Returns
 * false, and changes nothing, for any other count.
 *
 * ORDER: one CAS, never a load and a store: in between, another worker's `getFromInUse` could add
 * a reference that the UNIQUE store would then erase (verify/slot.pml, BROKEN_TRYFROM_LOAD).
 * OWNER: not written. A worker that dies holding the result leaves a UNIQUE slot that reclaim
 * cannot see, like any handle it held.
 */
export function toUnique(r: Region, w: number): boolean {
  return r.at.cas(w, 1, RC_UNIQUE) === 1;
}

/**
 * Starts the teardown of a unique frame: UNIQUE → busy.
 * OWNER: this worker names itself before the store that makes the slot busy (see `claim`).
 */
export function beginUniqueDrop(r: Region, w: number): void {
  r.i32[w + S_OWNER] = r.workerId;
  r.at.store(w, 0);
}

/**
 * Names this worker the owner of a busy slot it is about to tear down (one taken from the
 * deferred-drop stack, whose owner was the worker that deferred it).
 * OWNER: the slot is busy and was handed to this worker under the deferred stack's lock.
 */
export function takeOwnership(r: Region, w: number): void {
  r.i32[w + S_OWNER] = r.workerId;
}

/**
 * Clears a busy slot after its teardown (the end of the kernel's `drop_last_in_place`): the
 * metadata storage, type, list id and aux words are zeroed, and the count becomes UNUSED. The
 * frame is not yet given back: the caller deallocates it (or keeps it raw).
 *
 * ORDER: the slot is cleared before it reads UNUSED. A plain store is enough: the slot is busy
 * and this worker's alone, so no other worker writes it, and whoever may claim it next gets it
 * through a happens-before edge (this worker's own cache, or the allocator's lock). A racing
 * `getFromInUse` reads busy or UNUSED, both refusals.
 */
export function clearSlot(r: Region, w: number): void {
  const i32 = r.i32;
  for (let k = w + S_STORAGE; k < w + SLOT_WORDS; k++) i32[k] = 0; // plain stores: faster than fill()
  i32[w + S_TYPE] = 0;
  i32[w + S_LIST] = 0;
  i32[w + S_AUX] = 0;
  i32[w] = RC_UNUSED;
}

/**
 * `reclaimWorker`'s end of a busy slot whose owner died halfway through its setup or teardown:
 * the metadata storage, type, list id, aux and next words are zeroed (without the `onDrop`), and
 * the count becomes UNUSED. The caller has checked that the slot is busy, not on the deferred
 * stack, and owned by the dead worker (`ownerOf`); it frees the frame, or leaves it raw.
 * OWNER: a busy slot is its owner's alone, and its owner is dead; the reclaimer holds the
 * allocator lock. ORDER: cleared before the atomic store that makes it UNUSED.
 */
export function clearAbandoned(r: Region, w: number): void {
  const i32 = r.i32;
  for (let k = w + S_STORAGE; k < w + SLOT_WORDS; k++) i32[k] = 0;
  i32[w + S_TYPE] = 0;
  i32[w + S_LIST] = 0;
  i32[w + S_AUX] = 0;
  i32[w + S_NEXT] = 0;
  Atomics.store(i32, w, RC_UNUSED);
}

/**
 * The hot path of a last drop: if the frame's type has no `onDrop` in any worker (the registry's
 * flag), names this worker the owner and clears the busy slot (`clearSlot`); true then. False,
 * with nothing done, if an `onDrop` must run first (the frame layer's teardown does it).
 */
export function tearDownPlain(r: Region, w: number): boolean {
  const typeId = r.i32[w + S_TYPE];
  if (typeId < 1 || hasOnDrop(r, typeId)) return false;
  r.i32[w + S_OWNER] = r.workerId; // OWNER: as `takeOwnership`
  clearSlot(r, w);
  return true;
}

/**
 * Frees a unique frame whose metadata is already cleared (a `repurpose` whose old `onDrop`
 * threw): UNIQUE → busy → UNUSED. The caller journals it and deallocates it.
 * OWNER and ORDER: as `beginUniqueDrop`, then `clearSlot` (the storage and type are zero).
 */
export function freeCleared(r: Region, w: number): void {
  const i32 = r.i32;
  i32[w + S_OWNER] = r.workerId;
  Atomics.store(i32, w, 0);
  i32[w + S_LIST] = 0;
  i32[w + S_AUX] = 0;
  Atomics.store(i32, w, RC_UNUSED);
}

/**
 * Drops one reference to each of the `n` frames from word `first`, tearing down (as
 * `tearDownPlain`; in checked mode none, so that the contracts run) those whose last reference
 * it was, until a frame needs more: returns
 * `(k << 2) | code`, `k` frames done, then for frame `k` (if `k < n`) `RUN_KEPT` (references
 * remain), `DROP_LAST_SLOW` (its last reference: busy, an `onDrop` to run) or `DROP_NOT_HELD`
 * (unchanged). The WebAssembly fast path does the same steps in one call.
 * ORDER and OWNER: each frame as `decRef`, then `tearDownPlain`.
 */
export function dropRun(r: Region, first: number, n: number): number {
  const fast = r.fast;
  if (fast !== undefined) return fast.dropRun(first, n);
  for (let k = 0, w = first; k < n; k++, w += SLOT_WORDS) {
    const old = decRef(r, w);
    if (old > 1 && old <= REF_COUNT_MAX) return (k << 2) | RUN_KEPT;
    if (old !== 1) return (k << 2) | DROP_NOT_HELD;
    if (r.checked || !tearDownPlain(r, w)) return (k << 2) | DROP_LAST_SLOW; // checked: the contracts run first
  }
  return n << 2;
}

/** Checked mode's forgotten references of a held slot (the seed's `dropped_slots`). */
export function forgottenOf(r: Region, w: number): number {
  return Atomics.load(r.i32, w + S_AUX);
}

/**
 * Records one forgotten reference of a held slot (checked mode; `intoRaw`); returns how many it
 * has now. ORDER: an atomic add: two handles of one frame may forget at once, in two workers.
 */
export function addForgotten(r: Region, w: number): number {
  return Atomics.add(r.i32, w + S_AUX, 1) + 1;
}

/** Takes back one forgotten reference recorded by `addForgotten`. ORDER: an atomic sub, as `addForgotten`. */
export function dropForgotten(r: Region, w: number): void {
  Atomics.sub(r.i32, w + S_AUX, 1);
}

/**
 * Takes one forgotten reference (checked mode; `fromRaw`): false, with nothing changed, if
 * there is none to take (the double free that `from_raw_requires` rules out).
 * ORDER: a CAS loop, so two workers restoring the same frame cannot both take the last one.
 */
export function takeForgotten(r: Region, w: number): boolean {
  const i32 = r.i32;
  for (;;) {
    const n = Atomics.load(i32, w + S_AUX);
    if (n <= 0) return false;
    if (Atomics.compareExchange(i32, w + S_AUX, n, n - 1) === n) return true;
  }
}

/**
 * `dropShared` in a checked region, from a call site of its own: a site that has seen two
 * regions' functions is not inlined (see workers.ts `takeCheckedFast`). ORDER and OWNER: as
 * `dropShared`.
 */
function dropCheckedFast(fast: FastPath, w: number): number {
  return fast.drop(w);
}

/**
 * A `Frame` handle's drop of one shared reference to the frame of slot word `w`, journaled
 * `OP_DROP` so that a worker that dies anywhere in here leaves the frame to `reclaimWorker`.
 * Returns what is left to do:
 * - `DROP_DONE`: nothing (references remain, or the fast path cached the freed frame); the
 *   journal entry is ended;
 * - `DROP_DEALLOC`: the last reference, torn down (`tearDownPlain`), UNUSED: deallocate the
 *   frame, then end the journal entry;
 * - `DROP_LAST_SLOW`: the last reference, busy: an `onDrop` (or checked mode's contracts) must
 *   run before the teardown; then end the journal entry;
 * - `DROP_NOT_HELD`: the slot was not held, nothing changed; end the journal entry.
 * The WebAssembly fast path does the same steps in one call (and caches a freed frame itself).
 * ORDER and OWNER: the journal entry first (`recordOp`), then as `decRef` and `tearDownPlain`.
 */
export function dropShared(r: Region, w: number): number {
  const fast = r.fast;
  if (fast !== undefined) return r.checked ? dropCheckedFast(fast, w) : fast.drop(w);
  recordOp(r, OP_DROP, slotIndex(r, w), 1);
  const old = decRef(r, w);
  if (old === 1) return !r.checked && tearDownPlain(r, w) ? DROP_DEALLOC : DROP_LAST_SLOW;
  if (!isShared(old)) return DROP_NOT_HELD;
  clearOp(r);
  return DROP_DONE;
}

