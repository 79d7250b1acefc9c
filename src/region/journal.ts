/**
 * The per-worker journals in the worker table: which frames the worker's operation in progress
 * touches (the operation journal) and which runs of frames are moving between its caches and the
 * buddy allocator (the allocator journal). They cost a few plain stores per operation and are
 * read only by `reclaimWorker`, after the worker died, to finish or roll back what it left.
 */
import type { Region } from './region.js';

/**
 * The operation journal: the frames of the handle operation in progress, so that
 * `reclaimWorker` can finish or roll it back if the worker dies. `W_OP_START` is the first
 * frame's index + 1 (0: none); `W_OP_COUNT` is `kind << OP_KIND_SHIFT | nframes`, the kind
 * saying what the worker was doing with the frames (see `OP_*`).
 */
export const W_OP_START = 2;
export const W_OP_COUNT = 3;
export const OP_KIND_SHIFT = 24;
export const OP_COUNT_MASK = (1 << OP_KIND_SHIFT) - 1;

/** Frames this worker owns alone: taken from the allocator (being claimed and published), or
 *  raw frames being given back to it. */
export const OP_OWNED = 1;

/** References being dropped; frames whose last reference it was go back to the allocator. */
export const OP_DROP = 2;

/** Raw-owned frames being claimed or reset (`fromUnused`, `resetAsUnused`): never freed. */
export const OP_RAW = 3;

/** Frames `[old, old + n)` being added at the end of the region by a grow (`grow.ts`): only
 *  while the allocator lock is held, so `reclaimWorker` finishes it when it takes the lock over. */
export const OP_GROW = 4;

/** The allocator journal: runs of frames moving between this worker's caches and the buddy
 *  allocator. `W_AJ_COUNT` runs of `[index, nframes]` from `W_AJ_RUNS`. */
export const W_AJ_COUNT = 4;
export const W_AJ_RUNS = 5;
export const AJ_MAX_RUNS = 20;

/** The list journal: the linked-list change in progress (`LOP_*` kind, list index, frame,
 *  prev, next, new size), every write of which is absolute, so `reclaimWorker` can redo it. */
export const W_LOP = 105;
export const LOP_LINK = 1;
export const LOP_UNLINK = 2;

/**
 * Records that the operation in progress (of `kind`, an `OP_*`) touches frames
 * `[index, index + count)`.
 * ORDER: the count is written before the start, which makes the entry valid; a worker that
 * dies between the two leaves no entry, and nothing has happened to the frames yet.
 * OWNER: a record's journals are written only by its worker (plain stores), and read by
 * `reclaimWorker` only once that worker has exited.
 */
export function recordOp(r: Region, kind: number, index: number, count: number): void {
  const i32 = r.i32;
  i32[r.rec + W_OP_COUNT] = (kind << OP_KIND_SHIFT) | count;
  i32[r.rec + W_OP_START] = index + 1;
}

/**
 * Ends the operation: its frames are where they belong again.
 * ORDER: the start first, which makes the entry invalid (see `recordOp`).
 */
export function clearOp(r: Region): void {
  const i32 = r.i32;
  i32[r.rec + W_OP_START] = 0;
  i32[r.rec + W_OP_COUNT] = 0;
}

/** The current operation entry, to restore after a nested operation (an `onDrop`). */
export function saveOp(r: Region): [number, number] {
  return [r.i32[r.rec + W_OP_START], r.i32[r.rec + W_OP_COUNT]];
}

/** Puts back an entry `saveOp` took. ORDER: as `recordOp` (count, then start). */
export function restoreOp(r: Region, saved: [number, number]): void {
  r.i32[r.rec + W_OP_COUNT] = saved[1];
  r.i32[r.rec + W_OP_START] = saved[0];
}

/**
 * Records runs `[index, n]` moving between this worker's caches and the buddy allocator
 * (at most AJ_MAX_RUNS). ORDER: the runs are written before the count that makes them valid.
 */
export function recordRuns(r: Region, runs: readonly (readonly [number, number])[]): void {
  const i32 = r.i32;
  const at = r.rec + W_AJ_RUNS;
  for (let k = 0; k < runs.length; k++) {
    i32[at + 2 * k] = runs[k][0];
    i32[at + 2 * k + 1] = runs[k][1];
  }
  i32[r.rec + W_AJ_COUNT] = runs.length;
}

/** Records one run (the common case of a cache refill). ORDER: as `recordRuns`. */
export function recordRun(r: Region, index: number, n: number): void {
  const i32 = r.i32;
  i32[r.rec + W_AJ_RUNS] = index;
  i32[r.rec + W_AJ_RUNS + 1] = n;
  i32[r.rec + W_AJ_COUNT] = 1;
}

/**
 * Adds run `[index, n]` to the allocator journal, after the `count` runs already in it (a steal
 * records each run before its CAS). ORDER: the run is written before the count that covers it.
 */
export function appendRun(r: Region, count: number, index: number, n: number): void {
  const i32 = r.i32;
  const at = r.rec + W_AJ_RUNS + 2 * count;
  i32[at] = index; // OWNER: as `recordOp`
  i32[at + 1] = n;
  i32[r.rec + W_AJ_COUNT] = count + 1;
}

/** Keeps the first `count` runs of the allocator journal. OWNER: as `recordOp`. */
export function truncateRuns(r: Region, count: number): void {
  r.i32[r.rec + W_AJ_COUNT] = count;
}

/** Ends the allocator journal: the runs are where they belong. OWNER: as `recordOp`. */
export function clearRuns(r: Region): void {
  r.i32[r.rec + W_AJ_COUNT] = 0;
}

/** A journal entry: frames `[index, index + n)` and what the worker was doing with them. */
export interface JournalEntry {
  readonly index: number;
  readonly n: number;
  readonly kind: number;
}

/**
 * The journal entries of the worker record at word `rec` (allocator runs count as `OP_OWNED`):
 * what `reclaimWorker` reads of a worker that exited.
 */
export function journalOf(r: Region, rec: number): JournalEntry[] {
  const i32 = r.i32;
  const out: JournalEntry[] = [];
  const start = i32[rec + W_OP_START];
  if (start !== 0) {
    const word = i32[rec + W_OP_COUNT];
    out.push({ index: start - 1, n: word & OP_COUNT_MASK, kind: word >>> OP_KIND_SHIFT });
  }
  const runs = Math.min(Math.max(i32[rec + W_AJ_COUNT], 0), AJ_MAX_RUNS);
  for (let k = 0; k < runs; k++) {
    out.push({ index: i32[rec + W_AJ_RUNS + 2 * k], n: i32[rec + W_AJ_RUNS + 2 * k + 1], kind: OP_OWNED });
  }
  return out;
}
