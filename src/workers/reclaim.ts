/**
 * `reclaimWorker`: recovery of the share of a worker that died at any instruction. It takes over
 * the locks the worker held (rebuilding the buddy allocator's free lists from the per-frame free
 * marks), finishes or rolls back the operation its journals name, and returns its cached frames.
 * The frames are judged under the allocator lock; if another worker holds it too long (it has
 * most likely died too), the worker is left `WORKER_EXITED` and the next reclaim finishes it.
 */
import { RC_UNUSED, cachedRun, cachedWorker, clearAbandoned, countOf, isCachedHead, ownerOf, slotWord } from '../region/meta.js';
import { WORKER_EXITED, WORKER_FREE, markExited, reclaimRecord, workerState } from '../region/workers.js';
import { OP_GROW, OP_RAW } from '../region/journal.js';
import { completeGrowOf } from '../region/grow.js';
import { syncFrames } from '../region/header.js';
import { repairList } from '../region/lists.js';
import { releaseRegistryFrom } from '../region/registry.js';
import { releaseHeapFrom } from '../region/heap.js';
import { forEachDeferred, releaseDeferredFrom } from '../region/deferred.js';
import { MAX_LISTS, MAX_WORKERS } from '../base/limits.js';
import type { FrameContext } from '../frame/context.js';
import { isFree, lockAllocatorWithin, takeOverAllocator, unlockAllocator } from '../region/free-lists.js';
import { BuddyAllocator } from '../frame-allocator/buddy.js';
import { journalOf } from '../region/journal.js';
import { TOKEN_ID_BITS, takeCachedRun, takeCachedRunsOf, workerRecord, workerToken } from '../region/workers.js';
import { sweepTopics } from './topic.js';

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
  /**
   * Subscriptions to topics (`FrameTopic.subscribe`) it had: taken out of their topics, the
   * frames queued for them dropped, and the references they held let go.
   */
  readonly subscriptions: number;
  /** Free heap slots it held in its caches, given back to their slabs (`FrameSystem.heap`). */
  readonly heapSlots: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Reclaims the workers `ids` together: first the locks any of them held, then their frames (so
 * that the death of one that held the allocator lock does not block the reclaim of another), and
 * the frames of workers an earlier reclaim left `WORKER_EXITED`. Waits at most `waitMs` for the
 * allocator lock (then the reclaim is left pending; see `ReclaimReport.pending`).
 */
export function reclaimWorkers(
  sys: FrameContext,
  ids: readonly number[],
  waitMs: number,
  reclaimHeap?: (id: number) => number,
): ReclaimReport[] {
  const reports = reclaim(sys, ids, waitMs, reclaimHeap);
  // 3. Their subscriptions to topics: once their records are released (or left exited), their
  // tokens name no attached worker, and every topic's sweep takes them out.
  const byId = new Map(reports.map((report) => [report.workerId, report]));
  for (const token of sweepTopics(sys)) {
    const report = byId.get(token & ((1 << TOKEN_ID_BITS) - 1));
    if (report !== undefined) report.subscriptions++;
  }
  return reports;
}

/** `reclaimWorkers` but for the topics' sweep: the locks, then the frames (steps 1 and 2). */
function reclaim(sys: FrameContext, ids: readonly number[], waitMs: number, reclaimHeap?: (id: number) => number): Mutable<ReclaimReport>[] {
  const i32 = sys._region.mem.i32;
  const stateOf = (id: number): number => workerState(sys._region, id);
  const dead = ids.filter((id, k) => ids.indexOf(id) === k && stateOf(id) !== WORKER_FREE);
  const reports = new Map(ids.map((id) => [id, { workerId: id, locks: [] as string[], framesFreed: 0, teardowns: 0, leftBusy: 0, pending: false, subscriptions: 0, heapSlots: 0 }]));
  const buddy = new BuddyAllocator(sys._region);

  // 1. Locks. The buddy allocator's lists may be half updated: take the lock over and rebuild
  // them from the free marks. The registry and the deferred-drop stack change by single writes
  // (an entry is complete before the one write that publishes it): releasing is enough.
  for (const id of dead) {
    const token = workerToken(i32, id);
    const report = reports.get(id)!;
    if (takeOverAllocator(sys._region, token)) {
      syncFrames(sys._region);
      // A grow it was in (it holds the lock from its journal entry to its end): finished first,
      // so that the rebuild lists the new frames.
      if (completeGrowOf(sys._region, workerRecord(id))) report.locks.push('allocator (a grow, completed)');
      buddy.rebuildLocked();
      unlockAllocator(sys._region);
      report.locks.push('allocator');
    }
    reclaimLists(sys, id, token, report);
    if (releaseRegistryFrom(sys._region, token)) report.locks.push('type registry');
    if (releaseDeferredFrom(sys._region, token)) report.locks.push('deferred drops');
    // The slab change it left half done under the heap lock is repaired by the heap's reclaim.
    if (releaseHeapFrom(sys._region, token)) report.locks.push('heap');
  }
  // 1b. Their heap caches (and a slab one left half changed), while their ids are still theirs:
  // once step 2 frees an id, a new worker may take it and fill its caches (`Heap._reclaim` by id
  // would then take a live worker's slots). Outside the allocator lock: slabs left empty go back
  // to the frame allocator.
  if (reclaimHeap !== undefined) for (const id of dead) reports.get(id)!.heapSlots = reclaimHeap(id);
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
      if (workerToken(i32, id) === tokens[k] && markExited(sys._region, id, states[k])) {
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
 * if its slot names it, as the owner (see `claim` in meta.ts) or in a cached head, so work of
 * live workers is never touched. The caller holds the allocator lock.
 */
function reclaimFramesLocked(
  sys: FrameContext,
  buddy: BuddyAllocator,
  id: number,
  report: { framesFreed: number; teardowns: number; leftBusy: number },
): void {
  const rec = workerRecord(id);
  const toFree = new Set<number>();
  // Its caches: every run whose head says it is the dead worker's, counted by its stack or not.
  for (const [index, k] of takeCachedRunsOf(sys._region, id)) for (let f = index; f < index + k; f++) toFree.add(f);
  reclaimJournaled(sys, rec, id, report, toFree);
  // Everything goes back to the buddy allocator.
  const runs = [...toFree].sort((a, b) => a - b).map((f) => [f, 1] as [number, number]);
  buddy.freeRunsLocked(runs);
  report.framesFreed = runs.length;
  // The record: empty caches and journals (the generation stays), then the id is free.
  reclaimRecord(sys._region, id);
}

/**
 * The frames worker `id`'s journals name: finishes busy teardowns it owned and adds to `toFree`
 * the frames it had on their way between the allocator and a handle, and the runs it was taking
 * from a cache (its own pop, or a steal) whose head still says cached. A run whose head another
 * worker's cache holds is skipped whole: its other frames are that run's. The allocator lock is
 * held.
 */
function reclaimJournaled(
  sys: FrameContext,
  rec: number,
  id: number,
  report: { teardowns: number; leftBusy: number },
  toFree: Set<number>,
): void {
  const r = sys._region;
  const deferred = new Set<number>();
  forEachDeferred(r, (f) => deferred.add(f), sys.nframes);
  for (const { index, n, kind } of journalOf(r, rec)) {
    if (kind === OP_GROW) continue; // only ever journaled under the allocator lock: see `reclaim`
    for (let f = index; f < index + n && f < sys.nframes; f++) {
      const w = slotWord(r, f);
      const rc = countOf(r, w);
      if (isCachedHead(rc)) {
        // A cached run: the dead worker's (journaled before the CAS that would have taken it)
        // goes back; another worker's cache keeps its own, and its other frames with it.
        const k = cachedRun(rc);
        if (cachedWorker(rc) === id && kind !== OP_RAW && takeCachedRun(r, f, id, k)) {
          for (let g = f; g < f + k; g++) toFree.add(g);
        }
        f += k - 1;
        continue;
      }
      const mine = ownerOf(r, w) === id;
      if (rc === 0 && !deferred.has(f)) {
        // Busy: set up or torn down halfway; only the owner may finish it.
        if (!mine) {
          report.leftBusy++;
          continue;
        }
        clearAbandoned(r, w);
        report.teardowns++;
        if (kind !== OP_RAW) toFree.add(f);
      } else if (rc === RC_UNUSED && mine && kind !== OP_RAW && !isFree(r, f)) {
        // Unused, not free, and the dead worker's: on its way between the allocator (or a cache)
        // and a handle.
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
