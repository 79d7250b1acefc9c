/**
 * The per-worker journals in the worker table: which frames the worker's operation in progress
 * touches (the operation journal) and which runs of frames are moving between its caches and the
 * buddy allocator (the allocator journal). They cost a few plain stores per operation and are
 * read only by `reclaimWorker`, after the worker died, to finish or roll back what it left.
 */
import { AJ_MAX_RUNS, GEN_MASK, H_WORKERS, OP_OWNED, OP_COUNT_MASK, OP_KIND_SHIFT, TOKEN_ID_BITS, WORKER_ATTACHED, WORKER_WORDS, W_AJ_COUNT, W_AJ_RUNS, W_OP_COUNT, W_GEN, W_OP_START, W_STATE } from '../../layout.js';
import { MAX_WORKERS } from '../../base/limits.js';
import type { MemoryViews } from '../../shm/views.js';

/** What the journals need of a region: this worker's record. */
export interface JournalHost {
  readonly _mem: MemoryViews;
  /** Word index of this worker's record in the worker table. */
  readonly _wrec: number;
  /** This worker's lock token (see `W_GEN`). */
  readonly _token: number;
}

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
 * Records that the operation in progress (of `kind`, an `OP_*`) touches frames
 * `[index, index + count)`.
 * ORDER: the count is written before the start, which makes the entry valid; a worker that
 * dies between the two leaves no entry, and nothing has happened to the frames yet.
 */
export function recordOp(sys: JournalHost, kind: number, index: number, count: number): void {
  writeOp(sys._mem.i32, sys._wrec, kind, index, count);
}

/** `recordOp` on worker record `rec` of `i32`, for hot paths that hold both in locals. */
export function writeOp(i32: Int32Array, rec: number, kind: number, index: number, count: number): void {
  i32[rec + W_OP_COUNT] = (kind << OP_KIND_SHIFT) | count;
  i32[rec + W_OP_START] = index + 1;
}

/** Ends the operation: its frames are where they belong again. */
export function clearOp(sys: JournalHost): void {
  endOp(sys._mem.i32, sys._wrec);
}

/** `clearOp` on worker record `rec` of `i32`. */
export function endOp(i32: Int32Array, rec: number): void {
  i32[rec + W_OP_START] = 0;
  i32[rec + W_OP_COUNT] = 0;
}

/** The current operation entry, to restore after a nested operation (an `onDrop`). */
export function saveOp(sys: JournalHost): [number, number] {
  const i32 = sys._mem.i32;
  return [i32[sys._wrec + W_OP_START], i32[sys._wrec + W_OP_COUNT]];
}

export function restoreOp(sys: JournalHost, saved: [number, number]): void {
  const i32 = sys._mem.i32;
  i32[sys._wrec + W_OP_COUNT] = saved[1];
  i32[sys._wrec + W_OP_START] = saved[0];
}

/**
 * Records runs `[index, n]` moving between this worker's caches and the buddy allocator
 * (at most AJ_MAX_RUNS). The runs are written before the count that makes them valid.
 */
export function recordRuns(sys: JournalHost, runs: readonly (readonly [number, number])[]): void {
  const i32 = sys._mem.i32;
  const at = sys._wrec + W_AJ_RUNS;
  for (let r = 0; r < runs.length; r++) {
    i32[at + 2 * r] = runs[r][0];
    i32[at + 2 * r + 1] = runs[r][1];
  }
  i32[sys._wrec + W_AJ_COUNT] = runs.length;
}

/** Records one run (the common case of a cache refill). */
export function recordRun(sys: JournalHost, index: number, n: number): void {
  const i32 = sys._mem.i32;
  i32[sys._wrec + W_AJ_RUNS] = index;
  i32[sys._wrec + W_AJ_RUNS + 1] = n;
  i32[sys._wrec + W_AJ_COUNT] = 1;
}

export function clearRuns(sys: JournalHost): void {
  sys._mem.i32[sys._wrec + W_AJ_COUNT] = 0;
}

/** A journal entry: frames `[index, index + n)` and what the worker was doing with them. */
export interface JournalEntry {
  readonly index: number;
  readonly n: number;
  readonly kind: number;
}

/** The journal entries of worker record `rec` (allocator runs count as `OP_OWNED`). */
export function journalOf(i32: Int32Array, rec: number): JournalEntry[] {
  const out: JournalEntry[] = [];
  const start = i32[rec + W_OP_START];
  if (start !== 0) {
    const word = i32[rec + W_OP_COUNT];
    out.push({ index: start - 1, n: word & OP_COUNT_MASK, kind: word >>> OP_KIND_SHIFT });
  }
  const runs = Math.min(Math.max(i32[rec + W_AJ_COUNT], 0), AJ_MAX_RUNS);
  for (let r = 0; r < runs; r++) {
    out.push({ index: i32[rec + W_AJ_RUNS + 2 * r], n: i32[rec + W_AJ_RUNS + 2 * r + 1], kind: OP_OWNED });
  }
  return out;
}
