/**
 * `reclaimWorker`: recovery of the share of a worker that died at any instruction. It takes over
 * the locks the worker held (rebuilding the buddy allocator's free lists from the per-frame free
 * marks), finishes or rolls back the operation its journals name, and returns its cached frames.
 * The frames are judged under the allocator lock; if another worker holds it too long (it has
 * most likely died too), the worker is left `WORKER_EXITED` and the next reclaim finishes it.
 */
import { slotWord, RC_UNUSED, SLOT_WORDS, S_AUX, S_LIST, S_NEXT, S_OWNER, S_STORAGE, S_TYPE } from '../region/meta.js';
import { WORKER_EXITED, WORKER_FREE, W_GEN, W_STATE } from '../region/workers.js';
import { H_DEFER_HEAD, H_DEFER_LOCK, H_REG_LOCK } from '../region/geometry.js';
import { OP_RAW } from '../region/journal.js';
import { repairList } from '../region/lists.js';
import { MAX_LISTS, MAX_WORKERS } from '../base/limits.js';
import type { FrameContext } from '../frame/context.js';
import { forceRelease, lockOwner } from '../shm/lock.js';
import { isFree, lockAllocatorWithin, takeOverAllocator, unlockAllocator } from '../region/free-lists.js';
import { BuddyAllocator } from '../frame-allocator/buddy.js';
import { journalOf } from '../region/journal.js';
import { cachedRunsOf, workerRecord, workerToken } from '../region/workers.js';

/** What `reclaimWorker` recovered from a worker that died. */
export interface ReclaimReport {
  /** The worker whose share was reclaimed. */
  readonly workerId: number;
  /** Locks the dead worker held, taken over and repaired. */
  readonly locks: readonly string[];
  /** Frames it had cached or left half allocated or half freed, now free again. */
  readonly framesFreed: number;
  /** Frames it was tearing down (or setting up), whose teardown was completed (without their
   *  `onDrop`) or rolled back. */
  readonly teardowns: number;
  /** Frames it was tearing down whose busy state another worker may still own: left as they are. */
  readonly leftBusy: number;
  /**
   * True if the allocator lock was held by another worker all the while `reclaimWorker` waited
   * for it (about a second): that worker has most likely exited too and is not reclaimed yet.
   * This worker's locks were taken over, and its frames come back at the next `reclaimWorker`
   * call, in any worker (its id stays taken until then; `framesFreed`, `teardowns` and
   * `leftBusy` are 0).
   */
  readonly pending: boolean;
}

/**
 * Reclaims the workers `ids` together: first the locks any of them held, then their frames (so
 * that the death of one that held the allocator lock does not block the reclaim of another), and
 * the frames of workers an earlier reclaim left `WORKER_EXITED`. Waits at most `waitMs` for the
 * allocator lock (then the reclaim is left pending; see `ReclaimReport.pending`).
 */
export function reclaim(sys: FrameContext, ids: readonly number[], waitMs: number): ReclaimReport[] {
  const i32 = sys._region.mem.i32;
  const stateOf = (id: number): number => Atomics.load(i32, workerRecord(id) + W_STATE);
  const dead = ids.filter((id, k) => ids.indexOf(id) === k && stateOf(id) !== WORKER_FREE);
  const reports = new Map(ids.map((id) => [id, { workerId: id, locks: [] as string[], framesFreed: 0, teardowns: 0, leftBusy: 0, pending: false }]));
  const buddy = new BuddyAllocator(sys._region);

  // 1. Locks. The buddy allocator's lists may be half updated: take the lock over and rebuild
  // them from the free marks. The registry and the deferred-drop stack change by single writes
  // (an entry is complete before the one write that publishes it): releasing is enough.
  for (const id of dead) {
    const token = workerToken(i32, id);
    const report = reports.get(id)!;
    if (takeOverAllocator(sys._region, token)) {
      buddy.rebuildLocked();
      unlockAllocator(sys._region);
      report.locks.push('allocator');
    }
    reclaimLists(sys, id, token, report);
    if (lockOwner(i32, H_REG_LOCK) === token && forceRelease(i32, H_REG_LOCK, token)) report.locks.push('type registry');
    if (lockOwner(i32, H_DEFER_LOCK) === token && forceRelease(i32, H_DEFER_LOCK, token)) report.locks.push('deferred drops');
  }
  // 2. Their frames, and those of workers left exited before, under the allocator lock. The
  // allocator's lock is held from the first look at a journaled frame to the freeing: a live
  // worker refilling its cache in between could take a frame judged "on its way" and lose it
  // to a second free (found by the SPIN model, verify/cache.pml). A live holder lets go within
  // microseconds; one that does not within the wait has died too and is not reclaimed yet (its
  // 'exit' not seen yet, on this very thread perhaps): then these workers are left exited, their
  // locks already released, and the reclaim of that worker (or any later one) finishes them.
  /** Workers left exited by an earlier reclaim, but for `except`. */
  const leftExited = (except: readonly number[]): number[] => {
    const out: number[] = [];
    for (let id = 1; id <= MAX_WORKERS; id++) if (!except.includes(id) && stateOf(id) === WORKER_EXITED) out.push(id);
    return out;
  };
  if (dead.length === 0 && leftExited(dead).length === 0) {
    return ids.map((id) => reports.get(id)!);
  }
  const states = dead.map(stateOf);
  const tokens = dead.map((id) => workerToken(i32, id));
  if (!lockAllocatorWithin(sys._region, waitMs)) {
    dead.forEach((id, k) => {
      // Unless a concurrent reclaim has finished it meanwhile (and a new worker taken its id).
      const at = workerRecord(id) + W_STATE;
      if (workerToken(i32, id) === tokens[k] && Atomics.compareExchange(i32, at, states[k], WORKER_EXITED) === states[k]) {
        reports.get(id)!.pending = true;
      }
    });
    return ids.map((id) => reports.get(id)!);
  }
  try {
    // Looked at again under the lock: a concurrent reclaim may have finished one of them, and a
    // new worker may have attached under its id since (a new generation: its token differs).
    const todo = dead.filter((id, k) => stateOf(id) !== WORKER_FREE && workerToken(i32, id) === tokens[k]);
    todo.push(...leftExited(todo));
    for (const id of todo) reclaimFramesLocked(sys, buddy, id, reports.get(id) ?? { framesFreed: 0, teardowns: 0, leftBusy: 0 });
  } finally {
    unlockAllocator(sys._region);
  }
  return ids.map((id) => reports.get(id)!);
}

/**
 * Frees what worker `id` had cached, and finishes or rolls back what its journals name; then its
 * id is free. The rule is the same for every entry: a frame is the dead worker's to repair only
 * if its slot names it as owner (see `claim` in meta.ts), so work of live workers is never
 * touched. The caller holds the allocator lock.
 */
function reclaimFramesLocked(
  sys: FrameContext,
  buddy: BuddyAllocator,
  id: number,
  report: { framesFreed: number; teardowns: number; leftBusy: number },
): void {
  const i32 = sys._region.mem.i32;
  const rec = workerRecord(id);
  const cached = new Set<number>();
  const cacheRuns = cachedRunsOf(sys._region, id);
  for (const [index, k] of cacheRuns) for (let f = index; f < index + k; f++) cached.add(f);
  const toFree = new Set<number>();
  reclaimJournaled(sys, i32, rec, id, cached, report, toFree);
  // Everything goes back to the buddy allocator.
  const runs: [number, number][] = [...cacheRuns, ...[...toFree].map((f) => [f, 1] as [number, number])];
  buddy.freeRunsLocked(runs);
  report.framesFreed = runs.reduce((n, [, k]) => n + k, 0);
  // The record: empty caches and journals (the generation stays), then the id is free.
  for (let k = 1; k < W_GEN; k++) i32[rec + k] = 0;
  Atomics.store(i32, rec + W_STATE, WORKER_FREE);
}

/**
 * The frames worker `id`'s journals name: finishes busy teardowns it owned and adds to `toFree`
 * the frames it had on their way between the allocator and a handle. The allocator lock is held.
 */
function reclaimJournaled(
  sys: FrameContext,
  i32: Int32Array,
  rec: number,
  id: number,
  cached: ReadonlySet<number>,
  report: { teardowns: number; leftBusy: number },
  toFree: Set<number>,
): void {
  const slot = (f: number): number => slotWord(sys._region, f);
  const deferred = new Set<number>();
  for (let cur = Atomics.load(i32, H_DEFER_HEAD); cur !== 0 && deferred.size <= sys.nframes; cur = i32[slot(cur - 1) + S_NEXT]) {
    deferred.add(cur - 1);
  }
  for (const { index, n, kind } of journalOf(sys._region, rec)) {
    for (let f = index; f < index + n && f < sys.nframes; f++) {
      const w = slot(f);
      const rc = Atomics.load(i32, w);
      const mine = i32[w + S_OWNER] === id;
      if (rc === 0 && !deferred.has(f)) {
        // Busy: set up or torn down halfway; only the owner may finish it.
        if (!mine) {
          report.leftBusy++;
          continue;
        }
        clearBusy(i32, w);
        report.teardowns++;
        Atomics.store(i32, w, RC_UNUSED);
        if (kind !== OP_RAW) toFree.add(f);
      } else if (rc === RC_UNUSED && mine && kind !== OP_RAW && !isFree(sys._region, f) && !cached.has(f)) {
        // Unused, neither free nor cached, and the dead worker's: on its way between the
        // allocator and a handle.
        toFree.add(f);
      }
    }
  }
}

/** Locks of linked lists the dead worker held: each list is made whole (`repairList`), then released. */
function reclaimLists(sys: FrameContext, id: number, token: number, report: { locks: string[] }): void {
  const rec = workerRecord(id);
  for (let index = 0; index < MAX_LISTS; index++) {
    if (repairList(sys._region, index, rec, token)) report.locks.push(`linked list ${index + 1}`);
  }
}

/** Clears a busy slot's metadata (all of its storage) and links, keeping it busy. */
function clearBusy(i32: Int32Array, w: number): void {
  for (let s = S_STORAGE; s < SLOT_WORDS; s++) i32[w + s] = 0;
  i32[w + S_TYPE] = 0;
  i32[w + S_LIST] = 0;
  i32[w + S_AUX] = 0;
  i32[w + S_NEXT] = 0;
}
