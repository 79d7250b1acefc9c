/**
 * The worker table: one record of WORKER_WORDS words per attached worker, from H_WORKERS.
 *
 *   record: state | drain | journals (journal.ts) | cache stacks | list journal | … | generation
 *   stack k (1..4, from W_CACHE + CACHE_BASE[k]): count | frame index of each run of k frames, bottom first
 *
 * The cache stacks are the protocol half of `frame-allocator/cache.ts` (`CachedAllocator`, which
 * decides when to refill and flush): free runs of 1..4 frames, each run's frames UNUSED and this
 * worker's (their `S_OWNER` names it).
 *
 * Who writes: a worker's stacks and journals only that worker, with plain stores (`popOne`,
 * `pushOne`, `popCached`, `pushCached`, `stackRuns`, `popCachedRuns`), and `reclaimWorker` once
 * the worker has exited; other workers read them only to count or list them (`cachedFramesOf`,
 * `cachedRunsOf`: racy snapshots). The drain word is set by any worker (`requestDrain`) and
 * cleared by the record's worker (`clearDrainRequest`), both atomic stores; the state word is
 * changed by CAS or atomic store only.
 *
 * ORDER: a run leaving a stack is journaled (and owned) before the count stops covering it, and a
 * run entering one is written before the count that covers it, so a worker that dies anywhere
 * leaves each run in the stack or in its journal.
 */
import { H_WORKERS, WORKER_WORDS, type Layout } from './geometry.js';
import { W_AJ_RUNS, AJ_MAX_RUNS, OP_OWNED, clearOp, recordOp, recordRuns } from './journal.js';
import { AUX_FREE, RC_UNUSED, SLOT_SHIFT, SLOT_WORDS, S_AUX, S_OWNER, S_REF, TAKE_CLAIM_FAILED, setType, slotWord } from './meta.js';
import { Region } from './region.js';
import { FrameSystemError } from '../base/errors.js';
import { MAX_WORKERS } from '../base/limits.js';

/** Worker record word 0: 0 = free, 1 = attached, 2 = exited (its reclaim is not done yet). */
export const W_STATE = 0;
export const WORKER_FREE = 0;
export const WORKER_ATTACHED = 1;

/**
 * The worker exited and `reclaimWorker` took its locks over, but could not get the allocator
 * lock (held by a worker that has most likely exited too): its frames come back at the next
 * reclaim, in whichever worker. Its id stays taken until then.
 */
export const WORKER_EXITED = 2;

/** Set by another worker that needs this worker's cached frames back (before NoMemory). */
export const W_DRAIN = 1;

/** Per-worker caches of free runs of 1..4 frames (LIFO stacks of frame indices): for class k,
 *  the count is at `W_CACHE + CACHE_BASE[k]` and the entries follow it. */
export const W_CACHE = W_AJ_RUNS + 2 * AJ_MAX_RUNS;
export const CACHE_CAPACITY = [0, 32, 8, 8, 8] as const;
export const CACHE_BASE = [0, 0, 33, 42, 51] as const;

/** The 1-frame stack's offset in a record, as one constant for the hot paths. */
const STACK_ONE = W_CACHE + CACHE_BASE[1];

/** The record's generation, raised on every attach: a lock holds its owner's token
 *  `gen << TOKEN_ID_BITS | id`, so a lock of a dead worker is told apart from one of the worker
 *  that later attached with the same id. */
export const W_GEN = WORKER_WORDS - 1;
export const TOKEN_ID_BITS = 7;
export const GEN_MASK = 0xff_ffff;

/** Word index of the record of worker `id`. */
export function workerRecord(id: number): number {
  return H_WORKERS + (id - 1) * WORKER_WORDS;
}

/** The lock token of worker `id` as its record says now (its generation and id). */
export function workerToken(i32: Int32Array, id: number): number {
  return ((Atomics.load(i32, workerRecord(id) + W_GEN) & GEN_MASK) << TOKEN_ID_BITS) | id;
}


/** Whether the worker that holds lock token `token` is still attached (not reclaimed or closed). */
export function tokenAlive(i32: Int32Array, token: number): boolean {
  const id = token & ((1 << TOKEN_ID_BITS) - 1);
  if (id < 1 || id > MAX_WORKERS) return false;
  const rec = workerRecord(id);
  return Atomics.load(i32, rec + W_STATE) === WORKER_ATTACHED && workerToken(i32, id) === token;
}

/**
 * Takes a free entry of the worker table; returns its id (index + 1).
 * ORDER: the CAS of the state word makes the entry this worker's (of two attaching at once, one
 * wins); the generation is raised after it with an atomic store, before the token is read.
 */
export function claimWorker(head: Int32Array): number {
  for (let i = 0; i < MAX_WORKERS; i++) {
    const at = H_WORKERS + i * WORKER_WORDS + W_STATE;
    if (Atomics.compareExchange(head, at, WORKER_FREE, WORKER_ATTACHED) === WORKER_FREE) {
      // A new generation: locks left by a dead worker with this id are not mistaken for ours.
      const gen = H_WORKERS + i * WORKER_WORDS + W_GEN;
      Atomics.store(head, gen, ((Atomics.load(head, gen) + 1) & GEN_MASK) || 1);
      return i + 1;
    }
  }
  throw new FrameSystemError('TooManyWorkers', `all ${MAX_WORKERS} worker ids of the region are taken`);
}

/**
 * The top of this worker's 1-frame cache stack, journaled (`OP_OWNED`) as the operation in
 * progress and owned by this worker; -1 if the stack is empty or another worker asked this one
 * to drain its caches (then the allocator does the rest). The hot path of a one-frame
 * allocation (`CachedAllocator.popOne` calls it; the fast path's `take` does the same steps).
 *
 * OWNER: a worker's cache stacks are written by that worker only (plain stores), but for a
 * drain by `reclaimWorker` once it has exited. ORDER: journaled and owned before it leaves the
 * stack, so it is always in one or the other, and recovery knows it is this worker's.
 */
export function popOne(r: Region): number {
  const i32 = r.i32;
  const one = r.rec + STACK_ONE;
  const count = i32[one];
  if (count <= 0 || i32[r.rec + W_DRAIN] !== 0) return -1;
  const index = i32[one + count];
  recordOp(r, OP_OWNED, index, 1);
  i32[r.metaWord + (index << SLOT_SHIFT) + S_OWNER] = r.workerId;
  i32[one] = count - 1;
  return index;
}

/**
 * Pushes frame `index` (UNUSED, this worker's) on its 1-frame cache stack; false if the stack
 * holds `capacity` frames or a drain was asked for (then the allocator takes it).
 * OWNER: as `popOne`. ORDER: the entry is written before the count that covers it.
 */
export function pushOne(r: Region, index: number, capacity: number): boolean {
  const i32 = r.i32;
  const one = r.rec + STACK_ONE;
  const count = i32[one];
  if (count >= capacity || i32[r.rec + W_DRAIN] !== 0) return false;
  i32[one + count + 1] = index;
  i32[one] = count + 1;
  return true;
}

/** Word index of the class-`k` stack (its count; the entries follow) in the record at `rec`. */
function stackOf(rec: number, k: number): number {
  return rec + W_CACHE + CACHE_BASE[k];
}

/** Whether another worker asked this one to drain its caches (a plain read of its own record). */
export function drainRequested(r: Region): boolean {
  return r.i32[r.rec + W_DRAIN] !== 0;
}

/**
 * Asks worker `id` to give its cached frames back (it does at its next allocation or free).
 * ORDER: an atomic store: the word is another worker's, read by it with a plain load at its next
 * cache call.
 */
export function requestDrain(r: Region, id: number): void {
  Atomics.store(r.i32, workerRecord(id) + W_DRAIN, 1);
}

/**
 * Clears this worker's drain request, before it drains its caches.
 * ORDER: cleared before the drain, so a request made meanwhile is served again, never lost.
 */
export function clearDrainRequest(r: Region): void {
  Atomics.store(r.i32, r.rec + W_DRAIN, 0);
}

/** Whether worker `id` is attached now (an atomic load of its state). */
export function isAttached(r: Region, id: number): boolean {
  return Atomics.load(r.i32, workerRecord(id) + W_STATE) === WORKER_ATTACHED;
}

/** The state word of worker `id`'s record (`WORKER_FREE`, `WORKER_ATTACHED`, `WORKER_EXITED`): an atomic load. */
export function workerState(r: Region, id: number): number {
  return Atomics.load(r.i32, workerRecord(id) + W_STATE);
}

/**
 * `reclaimWorker` could not get the allocator lock: leaves worker `id` `WORKER_EXITED`, if its
 * state is still `seen` (no concurrent reclaim freed it meanwhile); whether it did.
 * ORDER: one CAS from the state read before, so a record that a concurrent reclaim freed (and a
 * new worker may have claimed since) is never marked.
 */
export function markExited(r: Region, id: number, seen: number): boolean {
  return Atomics.compareExchange(r.i32, workerRecord(id) + W_STATE, seen, WORKER_EXITED) === seen;
}

/**
 * `reclaimWorker`'s last step for dead worker `id`, once its cached and journaled frames are
 * back: its caches and journals emptied (the generation stays, so its old lock tokens stay dead),
 * then the id is free for the next `claimWorker`.
 * OWNER: the dead worker's record, written only by the reclaimer, which holds the allocator lock
 * (the id is not free until the last store). ORDER: the state is stored last, with an atomic
 * store that `claimWorker`'s CAS reads: a new worker with this id sees an empty record.
 */
export function reclaimRecord(r: Region, id: number): void {
  const i32 = r.i32;
  const rec = workerRecord(id);
  for (let k = W_STATE + 1; k < W_GEN; k++) i32[rec + k] = 0;
  Atomics.store(i32, rec + W_STATE, WORKER_FREE);
}

/** Runs in this worker's class-`k` stack (its own record: a plain read). */
export function cacheCount(r: Region, k: number): number {
  return r.i32[stackOf(r.rec, k)];
}

/** Frames in the cache stacks of worker `id` (atomic loads: a racy snapshot for another's). */
export function cachedFramesOf(r: Region, id: number): number {
  const rec = workerRecord(id);
  let n = 0;
  for (let k = 1; k <= 4; k++) n += k * Math.max(0, Atomics.load(r.i32, stackOf(rec, k)));
  return n;
}

/** The runs `[frame index, k]` in the cache stacks of worker `id`, bottom first (racy for another's). */
export function cachedRunsOf(r: Region, id: number): [number, number][] {
  const i32 = r.i32;
  const rec = workerRecord(id);
  const out: [number, number][] = [];
  for (let k = 1; k <= 4; k++) {
    const base = stackOf(rec, k);
    const count = Math.min(Math.max(i32[base], 0), CACHE_CAPACITY[k]);
    for (let e = 1; e <= count; e++) out.push([i32[base + e], k]);
  }
  return out;
}


/** `giveBackOne`'s answers. */
export const GIVEN = 0;
export const GIVE_REFUSED = 1;
export const GIVE_STACK_FULL = 2;

/**
 * A public `dealloc` of one raw frame, in one step for its hot path: `GIVE_REFUSED` (nothing
 * changed) if the frame is not UNUSED or is marked free in the buddy lists (plain reads: a legal
 * caller owns the frame, so nothing changes it meanwhile); else it names this worker the owner
 * and pushes it on the 1-frame stack (`GIVEN`), or answers `GIVE_STACK_FULL` for the allocator to
 * take it. OWNER: the owner is named before the push, as `popOne` names it before the pop (a
 * frame is always the stack's or answerable to this worker). ORDER: as `pushOne`.
 */
export function giveBackOne(r: Region, index: number, capacity: number): number {
  const i32 = r.i32;
  const w = r.metaWord + (index << SLOT_SHIFT);
  if (i32[w + S_REF] !== RC_UNUSED || (i32[w + S_AUX] & AUX_FREE) !== 0) return GIVE_REFUSED;
  i32[w + S_OWNER] = r.workerId;
  return pushOne(r, index, capacity) ? GIVEN : GIVE_STACK_FULL;
}

/**
 * Names this worker the owner (`S_OWNER`) of frames `[index, index + n)`, UNUSED frames it is
 * about to cache or free. OWNER: they are this worker's (raw, or just torn down), so no other
 * worker writes their slots; recovery then knows whose they are.
 */
export function ownFrames(r: Region, index: number, n: number): void {
  const i32 = r.i32;
  const id = r.workerId;
  for (let w = r.metaWord + (index << SLOT_SHIFT), end = w + (n << SLOT_SHIFT); w < end; w += SLOT_WORDS) i32[w + S_OWNER] = id;
}

/**
 * The top run of this worker's class-`k` stack, journaled (`OP_OWNED`) and owned as `popOne`'s;
 * -1 if the stack is empty (the drain request is the caller's to check).
 * OWNER and ORDER: as `popOne`.
 */
export function popCached(r: Region, k: number): number {
  const i32 = r.i32;
  const base = stackOf(r.rec, k);
  const count = i32[base];
  if (count <= 0) return -1;
  const index = i32[base + count];
  recordOp(r, OP_OWNED, index, k);
  ownFrames(r, index, k);
  i32[base] = count - 1;
  return index;
}

/**
 * Pushes the run of `k` frames from `index` (UNUSED, this worker's) on its class-`k` stack; false
 * if the stack is full (then the caller flushes). OWNER and ORDER: as `pushOne`.
 */
export function pushCached(r: Region, k: number, index: number): boolean {
  const i32 = r.i32;
  const base = stackOf(r.rec, k);
  const count = i32[base];
  if (count >= CACHE_CAPACITY[k]) return false;
  i32[base + count + 1] = index;
  i32[base] = count + 1;
  return true;
}

/**
 * Takes the top `m` runs (`m` at most the count) of this worker's class-`k` stack: appends them to
 * `runs` as `[index, k]`, records all of `runs` in the allocator journal (`recordRuns`, at most
 * AJ_MAX_RUNS), then lowers the count. The caller frees `runs` and clears the journal
 * (`clearRuns`) under the allocator lock.
 * OWNER: as `popOne`. ORDER: journaled before the count stops covering them.
 */
export function popCachedRuns(r: Region, k: number, m: number, runs: [number, number][]): void {
  const i32 = r.i32;
  const base = stackOf(r.rec, k);
  const count = i32[base];
  for (let e = count - m + 1; e <= count; e++) runs.push([i32[base + e], k]);
  recordRuns(r, runs);
  i32[base] = count - m;
}

/**
 * Fills this worker's empty class-`k` stack with the `m` runs of `k` frames from frame `start`,
 * the lowest on top (a refill: the caller took them from the allocator, journaled).
 * OWNER: as `popOne`. ORDER: the entries are written before the count that covers them; the
 * caller clears the journal after.
 */
export function stackRuns(r: Region, k: number, start: number, m: number): void {
  const i32 = r.i32;
  const base = stackOf(r.rec, k);
  for (let e = 1; e <= m; e++) i32[base + e] = start + (m - e) * k;
  i32[base] = m;
}

/**
 * The hot path of a one-frame allocation: pops the top of this worker's 1-frame cache
 * (`workers.ts` `popOne`: journaled, owned) and claims its slot with type `typeId`; with `count`
 * (1 or `RC_UNIQUE`) it also publishes it and ends the journal entry, when nothing is to be
 * written in between. Returns the frame index; -1 if the cache is empty or must drain (the
 * caller takes a frame from the allocator); `TAKE_CLAIM_FAILED` if the slot was not UNUSED (the
 * journal names the frame: `journaledFrame`). The WebAssembly fast path does it in one call.
 * ORDER and OWNER: as `popOne` (journaled and owned first), then as `claim` and `publish`.
 */
export function takeCached(r: Region, typeId: number, count = 0): number {
  const fast = r.fast;
  if (fast !== undefined) return count === 0 ? fast.take(typeId) : fast.takePublished(typeId, count);
  const index = popOne(r);
  if (index < 0) return -1;
  const w = slotWord(r, index);
  if (r.at.cas(w, RC_UNUSED, 0) !== RC_UNUSED) return TAKE_CLAIM_FAILED; // claim (popOne named the owner)
  setType(r, w, typeId);
  if (count !== 0) publishTaken(r, index, count);
  return index;
}

/** Publishes frame `index` taken by `takeCached` with count `count` and ends the journal entry. */
export function publishTaken(r: Region, index: number, count: number): void {
  const fast = r.fast;
  if (fast !== undefined) {
    fast.publish(index, count);
    return;
  }
  r.at.store(slotWord(r, index), count); // ORDER: as `publish`
  clearOp(r);
}

/**
 * This worker's view of the region at `offset` of `memory` (validated or just initialised), as
 * worker `workerId`: its record and lock token are read from the worker table.
 */
export function openRegion(
  memory: SharedArrayBuffer | WebAssembly.Memory,
  buffer: SharedArrayBuffer,
  offset: number,
  layout: Layout,
  workerId: number,
  checked: boolean,
): Region {
  const rec = workerRecord(workerId);
  const token = workerToken(new Int32Array(buffer, offset, rec + WORKER_WORDS), workerId);
  return new Region(memory, buffer, offset, layout, workerId, rec, token, checked);
}

/** Ids of the workers attached now (racy: others attach and close at any time). */
export function attachedWorkers(r: Region): number[] {
  const ids: number[] = [];
  for (let id = 1; id <= MAX_WORKERS; id++) if (isAttached(r, id)) ids.push(id);
  return ids;
}

/**
 * Frees this worker's record at `close` (its caches were drained first). ORDER: an atomic store,
 * after everything this worker wrote; `claimWorker`'s CAS in another worker reads it.
 */
export function releaseRecord(r: Region): void {
  Atomics.store(r.i32, r.rec + W_STATE, WORKER_FREE);
}
