/**
 * The deferred-drop stack: frames whose last reference was dropped in a worker that lacks their
 * type's `onDrop`. They wait here, busy, until a worker that has it tears them down
 * (`FrameSystem.drainDeferred`). The protocol half of the frame layer's teardown.
 *
 *   header: H_DEFER_HEAD (first frame's index + 1; 0 when empty) | H_DEFER_LOCK (owner, sleepers)
 *   slot:   S_NEXT links the stack; S_AUX is 1 if the frame goes back to the allocator after its
 *           teardown, 0 if it stays raw (a `resetAsUnused`)
 *
 * Who writes: only the holder of H_DEFER_LOCK links or unlinks (`push`, `takeRunnable`); a slot on
 * the stack is busy, so nothing else writes its words. ORDER: `H_DEFER_HEAD` is read without the
 * lock (`isEmpty`) only as a hint; every decision is made again under the lock.
 */
import { forceRelease, lock, lockOwner, unlock } from '../shm/lock.js';
import { H_DEFER_HEAD, H_DEFER_LOCK } from './geometry.js';
import { OP_DROP, OP_RAW, recordOp } from './journal.js';
import { S_AUX, S_NEXT, S_OWNER, S_TYPE, slotIndex, slotWord } from './meta.js';
import type { Region } from './region.js';

/**
 * Pushes the busy slot at `w` on the stack; `free` says whether its frame goes back to the
 * allocator once torn down. OWNER: the slot is busy and this worker's; the words are written under
 * the stack's lock.
 */
export function push(r: Region, w: number, free: boolean): void {
  const i32 = r.i32;
  lock(i32, H_DEFER_LOCK, r.token);
  i32[w + S_AUX] = free ? 1 : 0;
  i32[w + S_NEXT] = i32[H_DEFER_HEAD];
  i32[H_DEFER_HEAD] = slotIndex(r, w) + 1;
  unlock(i32, H_DEFER_LOCK);
}

/** Whether the stack is empty now (a hint: see the module's ORDER note). */
export function isEmpty(r: Region): boolean {
  return Atomics.load(r.i32, H_DEFER_HEAD) === 0;
}

/**
 * Unlinks the first frame on the stack whose type `canRun` (this worker has its `onDrop`),
 * journaled as this worker's drop (`OP_DROP`, or `OP_RAW` for one that stays raw) and owned by
 * it; returns its slot word, or -1 if there is none. The caller tears it down (`takeFreeFlag`
 * says whether to free it) and ends the journal entry.
 */
export function takeRunnable(r: Region, canRun: (typeId: number) => boolean): number {
  const i32 = r.i32;
  lock(i32, H_DEFER_LOCK, r.token);
  try {
    let prev = -1;
    for (let cur = i32[H_DEFER_HEAD]; cur !== 0; ) {
      const w = slotWord(r, cur - 1);
      const next = i32[w + S_NEXT];
      if (canRun(i32[w + S_TYPE])) {
        recordOp(r, i32[w + S_AUX] === 1 ? OP_DROP : OP_RAW, cur - 1, 1);
        i32[w + S_OWNER] = r.workerId;
        // ORDER: journaled and owned before the single write that takes it off the stack.
        if (prev === -1) i32[H_DEFER_HEAD] = next;
        else i32[prev + S_NEXT] = next;
        i32[w + S_NEXT] = 0;
        return w;
      }
      prev = w;
      cur = next;
    }
    return -1;
  } finally {
    unlock(i32, H_DEFER_LOCK);
  }
}

/**
 * Whether the frame `takeRunnable` returned goes back to the allocator after its teardown;
 * clears the mark. OWNER: the slot is busy and, off the stack, this worker's alone.
 */
export function takeFreeFlag(r: Region, w: number): boolean {
  const free = r.i32[w + S_AUX] === 1;
  r.i32[w + S_AUX] = 0;
  return free;
}

/** Calls `fn` with the frame index of every frame on the stack, at most `limit` + 1 (read-only, without the lock; for the census and `reclaimWorker`). */
export function forEachDeferred(r: Region, fn: (index: number) => void, limit: number): void {
  const i32 = r.i32;
  let n = 0;
  for (let cur = Atomics.load(i32, H_DEFER_HEAD); cur !== 0 && n <= limit; cur = i32[slotWord(r, cur - 1) + S_NEXT], n++) fn(cur - 1);
}

/**
 * `reclaimWorker`: releases the stack's lock if the dead worker whose token is `deadToken` held
 * it; whether it did. A push or an unlink is one final write (the head, or a link), so what a dead
 * holder left needs no repair.
 * ORDER: as `forceRelease` (shm/lock.ts): one CAS from the dead token.
 */
export function releaseDeferredFrom(r: Region, deadToken: number): boolean {
  return lockOwner(r.i32, H_DEFER_LOCK) === deadToken && forceRelease(r.i32, H_DEFER_LOCK, deadToken);
}
