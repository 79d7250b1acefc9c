/**
 * The worker table: one record of WORKER_WORDS words per attached worker, from H_WORKERS.
 *
 *   record: state | thread | journals (journal.ts) | cache stacks | list journal | … | generation
 *   stack k (1..4, from W_CACHE + CACHE_BASE[k]): count | frame index of each run of k frames, bottom first
 *
 * The cache stacks are the protocol half of `frame-allocator/cache.ts` (`CachedAllocator`, which
 * decides when to refill and flush): free runs of 1..4 frames, this worker's (their `S_OWNER`
 * names it), each run's first frame marked `cachedHead(worker, k)` in its count word (meta.ts)
 * and the others UNUSED.
 *
 * Who writes: a worker's stacks only that worker, with plain stores (`popOne`, `pushOne`,
 * `popCached`, `pushCached`, `stackRuns`, `popCachedRuns`), and `reclaimWorker` once the worker
 * has exited. Who takes a cached run: whoever moves its head's count away from
 * `cachedHead(owner, k)` with a CAS: the owner's pops, another worker's steal before a NoMemory
 * (`stealRun`, under the allocator lock, without the owner's help: an owner idle in its event
 * loop or blocked in a wait keeps nothing from the others), or `reclaimWorker`. An entry whose
 * run was taken by another stays in the stack, stale, until the owner's next pop skips it: the
 * head's count, not the stack, says what is cached. The state word is changed by CAS or atomic
 * store only.
 *
 * ORDER: a run leaving a stack is journaled before the CAS that takes it, and a run entering one
 * is named by an entry before its head says cached, so a worker that dies anywhere leaves each
 * run findable: in a journal or in a stack entry (counted or not).
 */
import { H_WORKERS, WORKER_WORDS, type Layout } from './geometry.js';
import { W_AJ_RUNS, AJ_MAX_RUNS, OP_OWNED, appendRun, clearOp, recordOp, recordRuns, truncateRuns } from './journal.js';
import { AUX_FREE, RC_UNUSED, SLOT_SHIFT, SLOT_WORDS, S_AUX, S_OWNER, S_REF, cachedHead, setType, slotIsClean, slotWord } from './meta.js';
import { Region, type FastPath } from './region.js';
import { FrameSystemError } from '../base/errors.js';
import { MAX_WORKERS } from '../base/limits.js';
import type { WasmMemory } from '../shm/views.js';

/**
 * Worker record word 1: the id of the thread that attached (`shm/thread.ts` `threadId`) + 1, 0 if
 * unknown; written once at attach (`recordThread`), read by `FrameSystem.reclaimThread`, and
 * zeroed before the record is freed (`releaseRecord`, `reclaimRecord`): a free record, and one a
 * new worker has claimed but not yet named its thread in, names no thread.
 */
export const W_THREAD = 1;

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

/** Per-worker caches of free runs of 1..4 frames (LIFO stacks of frame indices): for class k,
 *  the count is at `W_CACHE + CACHE_BASE[k]` and the entries follow it. */
export const W_CACHE = W_AJ_RUNS + 2 * AJ_MAX_RUNS;
export const CACHE_CAPACITY = [0, 32, 8, 8, 8] as const;
export const CACHE_BASE = [0, 0, 33, 42, 51] as const;

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
 * Records that worker `id`'s record was claimed from thread `thread` (`shm/thread.ts`).
 * OWNER: the record was just claimed by this thread (`claimWorker`'s CAS, or `initRegion` for
 * worker 1); ORDER: an atomic store, read with an atomic load by `threadOf` in any worker.
 */
export function recordThread(i32: Int32Array, id: number, thread: number): void {
  Atomics.store(i32, workerRecord(id) + W_THREAD, thread + 1);
}

/** The thread that attached worker `id` (`recordThread`), or -1 if unknown. */
export function threadOf(r: Region, id: number): number {
  return Atomics.load(r.i32, workerRecord(id) + W_THREAD) - 1;
}

/**
 * The top frame of this worker's 1-frame cache stack that is still its own, journaled
 * (`OP_OWNED`) as the operation in progress, its count moved from `cachedHead(worker, 1)` to `to`
 * (0: claimed, busy; `RC_UNUSED`: raw) by one CAS; -1 if the stack holds none. Entries whose
 * frame left the cache meanwhile (stolen by another worker before a NoMemory, see `stealRun`)
 * are skipped and dropped. The hot path of a one-frame allocation (`CachedAllocator.popOne`,
 * `takeCached`; the fast path's `take` and `popRaw` do the same steps).
 *
 * OWNER: a worker's cache stacks are written by that worker only (plain stores), and by
 * `reclaimWorker` once it has exited; the frame's `S_OWNER` already names this worker (written
 * when it was cached). ORDER: the head's count is checked before the journal entry and won by the
 * CAS after it, so a death anywhere leaves the frame cached, or journaled and this worker's;
 * another worker's CAS (a steal) and this one cannot both win.
 */
export function popOne(r: Region, to: number): number {
  const fast = r.fast;
  if (to === RC_UNUSED && fast !== undefined) return r.checked ? popRawCheckedFast(fast) : fast.popRaw();
  return popRun(r, 1, to);
}

/** `popOne`'s raw pop in a checked region, from a call site of its own (see `takeCheckedFast`).
 *  ORDER and OWNER: as `popOne`. */
function popRawCheckedFast(fast: FastPath): number {
  return fast.popRaw();
}

/** `popOne` and `popCached` for the class-`k` stack: the head's count goes to `to`. OWNER and ORDER: as `popOne`. */
function popRun(r: Region, k: number, to: number): number {
  const i32 = r.i32;
  const base = stackOf(r.rec, k);
  const want = k === 1 ? r.cachedOne : cachedHead(r.workerId, k);
  let count = i32[base];
  for (; count > 0; count--) {
    const index = i32[base + count];
    const w = r.metaWord + (index << SLOT_SHIFT);
    if (Atomics.load(i32, w) !== want) continue; // stolen since: a stale entry
    if (to === 0 && r.checked && !slotIsClean(r, w)) break; // left cached: see `takeCached`
    recordOp(r, OP_OWNED, index, k);
    if (Atomics.compareExchange(i32, w, want, to) !== want) continue; // stolen just now
    i32[base] = count - 1;
    return index;
  }
  i32[base] = count; // 0, or the dirty head left for the caller's checks
  return -1;
}

/**
 * Caches frame `index` (UNUSED, this worker's: its `S_OWNER` names this worker) on its 1-frame
 * stack; false if the stack holds `capacity` entries (then the allocator takes it).
 * OWNER: as `popOne`. ORDER: the entry is written, then the count word says "cached" (from here
 * on another worker may take the frame, with a CAS), then the stack's count covers it: a worker
 * that dies in between leaves a cached frame that its stack names (`reclaimWorker` reads every
 * entry, not only those under the count).
 */
export function pushOne(r: Region, index: number, capacity: number): boolean {
  return pushRun(r, 1, index, capacity);
}

/** `pushOne` and `pushCached` for the class-`k` stack of `capacity` entries. OWNER and ORDER: as `pushOne`. */
function pushRun(r: Region, k: number, index: number, capacity: number): boolean {
  const i32 = r.i32;
  const base = stackOf(r.rec, k);
  const count = i32[base];
  if (count >= capacity) return false;
  i32[base + count + 1] = index;
  Atomics.store(i32, r.metaWord + (index << SLOT_SHIFT), k === 1 ? r.cachedOne : cachedHead(r.workerId, k));
  i32[base] = count + 1;
  return true;
}

/** Word index of the class-`k` stack (its count; the entries follow) in the record at `rec`. */
function stackOf(rec: number, k: number): number {
  return rec + W_CACHE + CACHE_BASE[k];
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

/** Runs in this worker's class-`k` stack, stale entries included (its own record: a plain read). */
export function cacheCount(r: Region, k: number): number {
  return r.i32[stackOf(r.rec, k)];
}

/** Frames in the cache stacks of worker `id` (a racy snapshot for another's: see `cachedRunsOf`). */
export function cachedFramesOf(r: Region, id: number): number {
  let n = 0;
  for (const [, k] of cachedRunsOf(r, id)) n += k;
  return n;
}

/**
 * Calls `fn(index, k)` for each entry of worker `id`'s class-`k` stacks whose frame heads a run
 * that worker caches now (`cachedHead(id, k)`): the entries under each stack's count, or with
 * `all` every entry the stack has room for (a push in progress writes its entry and the head's
 * count before the stack's count). A frame named twice is reported twice.
 */
function forEachCachedEntry(r: Region, id: number, all: boolean, fn: (index: number, k: number) => void): void {
  const i32 = r.i32;
  const rec = workerRecord(id);
  const nframes = r.maxFrames; // every slot exists; a run past this worker's view is the region's still
  for (let k = 1; k <= 4; k++) {
    const base = stackOf(rec, k);
    const want = cachedHead(id, k);
    const count = all ? CACHE_CAPACITY[k] : Math.min(Math.max(Atomics.load(i32, base), 0), CACHE_CAPACITY[k]);
    for (let e = 1; e <= count; e++) {
      const index = i32[base + e];
      if (index >= 0 && index + k <= nframes && Atomics.load(i32, slotWord(r, index)) === want) fn(index, k);
    }
  }
}

/** The runs `[frame index, k]` cached by worker `id` (each once, bottom of each stack first; racy for another's). */
export function cachedRunsOf(r: Region, id: number): [number, number][] {
  const out: [number, number][] = [];
  const seen = new Set<number>();
  forEachCachedEntry(r, id, false, (index, k) => {
    if (seen.has(index)) return;
    seen.add(index);
    out.push([index, k]);
  });
  return out;
}

/** `giveBackOne`'s answers. */
export const GIVEN = 0;
export const GIVE_REFUSED = 1;
export const GIVE_STACK_FULL = 2;

/**
 * A public `dealloc` of one raw frame, in one step for its hot path: `GIVE_REFUSED` (nothing
 * changed) if the frame is not UNUSED or is marked free in the buddy lists (plain reads: a legal
 * caller owns the frame, so nothing changes it meanwhile; a cached frame's count is a
 * `cachedHead`, so a second free of it is refused too); else it names this worker the owner and
 * caches it (`GIVEN`), or answers `GIVE_STACK_FULL` for the allocator to take it. OWNER: the
 * owner is named before the push (a frame is always the stack's or answerable to this worker).
 * ORDER: as `pushOne`. The fast path's `giveRaw` does the same steps.
 */
export function giveBackOne(r: Region, index: number, capacity: number): number {
  const fast = r.fast;
  if (fast !== undefined) return r.checked ? giveRawCheckedFast(fast, index) : fast.giveRaw(index);
  const i32 = r.i32;
  const w = r.metaWord + (index << SLOT_SHIFT);
  if (i32[w + S_REF] !== RC_UNUSED || (i32[w + S_AUX] & AUX_FREE) !== 0) return GIVE_REFUSED;
  i32[w + S_OWNER] = r.workerId;
  return pushOne(r, index, capacity) ? GIVEN : GIVE_STACK_FULL;
}

/**
 * Names this worker the owner (`S_OWNER`) of frames `[index, index + n)`, UNUSED frames it is
 * about to cache or free. OWNER: they are this worker's (raw, or just torn down, or won by a CAS
 * of their run's head), so no other worker writes their slots; recovery then knows whose they are.
 */
export function ownFrames(r: Region, index: number, n: number): void {
  const i32 = r.i32;
  const id = r.workerId;
  for (let w = r.metaWord + (index << SLOT_SHIFT), end = w + (n << SLOT_SHIFT); w < end; w += SLOT_WORDS) i32[w + S_OWNER] = id;
}

/**
 * The top run of this worker's class-`k` stack that is still its own, journaled (`OP_OWNED`),
 * its head moved from `cachedHead(worker, k)` to UNUSED by one CAS (the run's frames are raw and
 * this worker's); -1 if the stack holds none. OWNER and ORDER: as `popOne`.
 */
export function popCached(r: Region, k: number): number {
  return popRun(r, k, RC_UNUSED);
}

/**
 * Caches the run of `k` frames from `index` (UNUSED, this worker's) on its class-`k` stack; false
 * if the stack is full (then the caller flushes). OWNER and ORDER: as `pushOne`.
 */
export function pushCached(r: Region, k: number, index: number): boolean {
  return pushRun(r, k, index, CACHE_CAPACITY[k]);
}

/**
 * Takes the top `m` entries (`m` at most the count) of this worker's class-`k` stack: appends
 * them to `runs` as `[index, k]`, records all of `runs` in the allocator journal (`recordRuns`, at
 * most AJ_MAX_RUNS), then lowers the count. The caller wins them (`releaseCachedRuns`: an entry
 * whose run was stolen meanwhile is dropped), frees them and clears the journal under the
 * allocator lock.
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
 * Of `runs` (this worker's cache entries, journaled), keeps those whose head it still caches,
 * moving each head from `cachedHead(worker, k)` to UNUSED with one CAS; a run stolen since, or
 * named twice, is dropped. The allocator lock is held. ORDER: the CAS decides between this
 * worker and a steal or reclaim.
 */
export function releaseCachedRuns(r: Region, runs: readonly (readonly [number, number])[]): [number, number][] {
  const i32 = r.i32;
  const out: [number, number][] = [];
  for (const [index, k] of runs) {
    const w = slotWord(r, index);
    const want = cachedHead(r.workerId, k);
    if (Atomics.compareExchange(i32, w, want, RC_UNUSED) === want) out.push([index, k]);
  }
  return out;
}

/**
 * Fills this worker's empty class-`k` stack with the `m` runs of `k` frames from frame `start`,
 * the lowest on top (a refill: the caller took them from the allocator, journaled).
 * OWNER: as `popOne`. ORDER: as `pushCached`, for every run; the caller clears the journal after.
 */
export function stackRuns(r: Region, k: number, start: number, m: number): void {
  const i32 = r.i32;
  const base = stackOf(r.rec, k);
  const head = cachedHead(r.workerId, k);
  for (let e = 1; e <= m; e++) {
    const index = start + (m - e) * k;
    i32[base + e] = index;
    Atomics.store(i32, slotWord(r, index), head);
  }
  i32[base] = m;
}

/**
 * Before a NoMemory: takes the run `[index, k]` that worker `victim` caches (its head is
 * `cachedHead(victim, k)`), without the victim's help: records it as run `count` of this
 * worker's allocator journal, then moves its head to `cachedHead(this worker, k)` with one CAS.
 * True if the CAS won (the run is this worker's: `settleStolen`); false if the run left the
 * victim's cache (its own pop won), and then the journal keeps `count` runs. The caller holds the
 * allocator lock (one thief at a time, and `reclaimWorker` waits).
 * ORDER: journaled before the CAS, so a thief that dies after it leaves the run findable (and
 * named as its own by the head); the victim's pop CASes the same word, so one of them wins.
 */
export function stealRun(r: Region, victim: number, index: number, k: number, count: number): boolean {
  const w = slotWord(r, index);
  const want = cachedHead(victim, k);
  if (Atomics.load(r.i32, w) !== want) return false;
  appendRun(r, count, index, k);
  if (Atomics.compareExchange(r.i32, w, want, cachedHead(r.workerId, k)) === want) return true;
  truncateRuns(r, count);
  return false;
}

/**
 * Makes the runs this worker stole (`stealRun`) raw frames of its own, ready to be freed: each
 * frame's `S_OWNER` names it, then the head becomes UNUSED. The allocator lock is held.
 * OWNER: won by the CAS; no other worker writes these slots. ORDER: the owner before the count,
 * so recovery after a death in between finds frames named the thief's.
 */
export function settleStolen(r: Region, runs: readonly (readonly [number, number])[]): void {
  for (const [index, k] of runs) {
    ownFrames(r, index, k);
    Atomics.store(r.i32, slotWord(r, index), RC_UNUSED);
  }
}

/**
 * Calls `fn(index, k)` for every run worker `victim` caches now (racy: the caller's `stealRun`
 * decides), reading every entry of its stacks.
 */
export function forEachStealable(r: Region, victim: number, fn: (index: number, k: number) => void): void {
  forEachCachedEntry(r, victim, true, fn);
}

/**
 * Takes the run of `k` frames from `index` that worker `id` (dead) caches, with one CAS of its
 * head to UNUSED; `S_OWNER` of its frames then names that worker (recovery's "mine" rule). False
 * if the head no longer says so. `reclaimWorker`, under the allocator lock.
 * OWNER: the dead worker's frames, won by the CAS. ORDER: the CAS decides against a steal or the
 * same run named twice.
 */
export function takeCachedRun(r: Region, index: number, id: number, k: number): boolean {
  const want = cachedHead(id, k);
  if (Atomics.compareExchange(r.i32, slotWord(r, index), want, RC_UNUSED) !== want) return false;
  for (let f = index; f < index + k; f++) r.i32[slotWord(r, f) + S_OWNER] = id;
  return true;
}

/**
 * The runs worker `id` (dead) caches: heads `cachedHead(id, k)` named anywhere in its stacks,
 * counted or not, each taken with `takeCachedRun`. The allocator lock is held.
 */
export function takeCachedRunsOf(r: Region, id: number): [number, number][] {
  const out: [number, number][] = [];
  forEachCachedEntry(r, id, true, (index, k) => {
    if (takeCachedRun(r, index, id, k)) out.push([index, k]);
  });
  return out;
}

/**
 * The hot path of a one-frame allocation: pops the top of this worker's 1-frame cache and claims
 * its slot (`popOne` with `to` 0: one CAS from the cached head to busy) with type `typeId`; with
 * `count` (1 or `RC_UNIQUE`) it also publishes it and ends the journal entry, when nothing is to
 * be written in between. Returns the frame index; -1 if the cache has none (the caller takes a
 * frame from the allocator). The WebAssembly fast path does it in one call. In a checked region
 * a head whose slot is not clean (`slotIsClean`) is left cached and -1 returned: the caller's
 * other path takes it as a raw frame, and checked mode's `from_unused_requires` reports it.
 * ORDER and OWNER: as `popOne`, then as `claim` and `publish`.
 */
export function takeCached(r: Region, typeId: number, count = 0): number {
  const fast = r.fast;
  if (fast !== undefined) {
    if (r.checked) return takeCheckedFast(fast, typeId, count);
    return count === 0 ? fast.take(typeId) : fast.takePublished(typeId, count);
  }
  const index = popOne(r, 0);
  if (index < 0) return -1;
  setType(r, slotWord(r, index), typeId);
  if (count !== 0) publishTaken(r, index, count);
  return index;
}

/**
 * `takeCached` in a checked region: the same calls, from call sites of their own. V8 inlines a
 * call from JavaScript into WebAssembly only at a call site that has seen one function; each
 * region has its own instance (its own functions), so a process that uses a checked region and
 * an unchecked one (a benchmark, a test suite) would otherwise slow the unchecked region's calls.
 * ORDER and OWNER: as `takeCached`.
 */
function takeCheckedFast(fast: FastPath, typeId: number, count: number): number {
  return count === 0 ? fast.take(typeId) : fast.takePublished(typeId, count);
}

/** Publishes frame `index` taken by `takeCached` with count `count` and ends the journal entry. */
export function publishTaken(r: Region, index: number, count: number): void {
  const fast = r.fast;
  if (fast !== undefined) {
    if (r.checked) publishCheckedFast(fast, index, count);
    else fast.publish(index, count);
    return;
  }
  r.at.store(slotWord(r, index), count); // ORDER: as `publish`
  clearOp(r);
}

/** `giveBackOne` in a checked region, from a call site of its own (see `takeCheckedFast`).
 *  ORDER and OWNER: as `giveBackOne`. */
function giveRawCheckedFast(fast: FastPath, index: number): number {
  return fast.giveRaw(index);
}

/** `publishTaken` in a checked region, from a call site of its own (see `takeCheckedFast`). ORDER: as `publish`. */
function publishCheckedFast(fast: FastPath, index: number, count: number): void {
  fast.publish(index, count);
}

/**
 * This worker's view of the region at `offset` of `memory` (validated or just initialised), as
 * worker `workerId`: its record and lock token are read from the worker table.
 */
export function openRegion(
  memory: SharedArrayBuffer | WasmMemory,
  buffer: SharedArrayBuffer,
  offset: number,
  layout: Layout,
  workerId: number,
  checked: boolean,
): Region {
  const rec = workerRecord(workerId);
  const token = workerToken(new Int32Array(buffer, offset, rec + WORKER_WORDS), workerId);
  const r = new Region(memory, buffer, offset, layout, workerId, rec, token, checked);
  r.cachedOne = cachedHead(workerId, 1);
  return r;
}

/** Ids of the workers attached now (racy: others attach and close at any time). */
export function attachedWorkers(r: Region): number[] {
  const ids: number[] = [];
  for (let id = 1; id <= MAX_WORKERS; id++) if (isAttached(r, id)) ids.push(id);
  return ids;
}

/**
 * Frees this worker's record at `close` (its caches were drained first).
 * ORDER: its thread word is zeroed before the state says free. Left naming this thread, the word
 * would name it in the record of the next worker to claim the id until that one's `recordThread`:
 * a `reclaimThread` of this (exited) thread in between would take that live worker for this one
 * (its operation in progress torn down, its cached frames freed under it). Then the state, with
 * an atomic store after everything this worker wrote; `claimWorker`'s CAS in another worker
 * reads it.
 */
export function releaseRecord(r: Region): void {
  Atomics.store(r.i32, r.rec + W_THREAD, 0);
  Atomics.store(r.i32, r.rec + W_STATE, WORKER_FREE);
}
