/**
 * The ring of a `FrameChannel`: a bounded queue of entries in frames of the region, from the first
 * byte of the channel's first frame (`ringAt`). The protocol half of `workers/channel.ts`, which
 * keeps the API (handles, types, errors, the spin before a sleep): nothing else names these words.
 *
 *   header: lock owner | lock sleepers | head | tail | receive waiters | send waiters | sent |
 *           received | ended | missed | (unused to word 16) | entries, ENTRY_WORDS words each
 *   entry:  first frame's index + 1 | frame count, with SEGMENT_FLAG and MIXED_FLAG
 *
 * Head and tail are positions in [0, 2 × capacity): equal when empty, `capacity` apart when full,
 * so that any capacity works and nothing wraps at 2^32; the entry of position p is p % capacity.
 * `sent` and `received` count every send and receive (wrapping at 2^32): what waiters sleep on.
 *
 * Who writes: the entries, the head and the tail, only the holder of the ring's lock
 * (`lockRing`), through `enqueue` (entry, then tail) and `takeHead` / `putBackHead`; each change of
 * the queue ends with one final write (the tail's, or the head's), so a lock whose holder died
 * mid-change is taken over with the queue whole (verify/channel.pml). The counters are bumped with
 * `Atomics.add` under the lock; the waiter counts by each sleeper for itself (`shm/wait.ts`).
 * The words are zero when the channel's frames are allocated (an empty ring, lock free).
 *
 * ORDER: the head and tail are read without the lock by `ringSize` (`FrameChannel.size`, and a
 * waiter's spin): they are stored with `Atomics.store` after the entry they publish or free. A
 * waiter loads the counter it sleeps on before its last look at the queue, and a changer bumps
 * the counter before it reads the waiter count (`sleepOn` / `wake`); every sleep is capped at
 * MAX_SLEEP_MS (finding F3: a changer that dies before its notify), and so is an asynchronous
 * wait for the lock (`sleepOnRingLockAsync`: a lock holder that dies never unlocks).
 */
import { PAGE_SIZE, type Paddr } from '../base/units.js';
import { lockOwner, lockTakingOver, sleepOnLockAsync, unlock } from '../shm/lock.js';
import { sleepOn, sleepOnAsync, wake } from '../shm/wait.js';
import type { Region } from './region.js';
import { tokenAlive } from './workers.js';

/** Words of the channel header, from the start of its first frame: the lock is two words (owner
 *  token, sleepers; `shm/lock.ts`). */
const C_LOCK = 0;
/** Positions of the next entry to receive and to send, in [0, 2 × capacity): equal when empty,
 *  `capacity` apart when full. */
const C_HEAD = 2;
const C_TAIL = 3;
const C_RECV_WAITERS = 4;
const C_SEND_WAITERS = 5;
/** Counters bumped by every send and every receive (wrapping at 2^32): what waiters sleep on. */
const C_SENT = 6;
const C_RECEIVED = 7;
/** 1 once `FrameChannel.end` was called: no more sends; receivers get what is queued, then null. */
const C_ENDED = 8;
/** Items a topic could not queue here (full, or ended): a subscription's `missed` (`workers/topic.ts`). */
const C_MISSED = 9;
const C_ENTRIES = 16;
const ENTRY_WORDS = 2;
/** In an entry's count word: the item was sent as a `Segment`; its frames may be of several
 *  types (a segment restored without a type). */
const SEGMENT_FLAG = 0x4000_0000;
const MIXED_FLAG = 0x2000_0000;
const COUNT_MASK = MIXED_FLAG - 1;

/**
 * The longest a waiter sleeps before it looks at the queue again. A worker that dies between its
 * change of the queue and its notify (it is reclaimed, but a notify is never sent for it) would
 * otherwise leave the other side asleep with the queue ready (found by the SPIN model,
 * verify/channel.pml); the callers' loops re-check the queue after every wake-up.
 */
const MAX_SLEEP_MS = 100;

/** Word index of the ring of the channel whose first frame is at `paddr`. */
export function ringAt(r: Region, paddr: Paddr): number {
  return (r.frameByte + paddr) >> 2;
}

/** Frames a ring of `capacity` entries takes (its header included). */
export function ringFrames(capacity: number): number {
  return Math.ceil(((C_ENTRIES + capacity * ENTRY_WORDS) * 4) / PAGE_SIZE);
}

/** The position after `pos` in [0, 2 × capacity). */
function nextPos(pos: number, capacity: number): number {
  return pos + 1 === 2 * capacity ? 0 : pos + 1;
}

/** Word index of the entry of position `pos`. */
function entryWord(b: number, pos: number, capacity: number): number {
  return b + C_ENTRIES + (pos % capacity) * ENTRY_WORDS;
}

/** Entries queued in the ring at word `b` now (racy without the lock: see the module's ORDER). */
export function ringSize(r: Region, b: number, capacity: number): number {
  const n = Atomics.load(r.i32, b + C_TAIL) - Atomics.load(r.i32, b + C_HEAD);
  return n < 0 ? n + 2 * capacity : n;
}

/**
 * Takes the ring's lock for this worker (`r.token`), waiting at most about `ms` (default: as long
 * as it takes): whether it was taken. A holder that died and was reclaimed (its token no longer
 * names an attached worker, even if a new worker took its id) is taken over: each queue change
 * ends with one final write, so the queue is whole. One that died and is not reclaimed yet holds
 * it until it is: `ms` bounds the wait then.
 */
export function lockRing(r: Region, b: number, ms = Infinity): boolean {
  return lockTakingOver(r.i32, b + C_LOCK, r.token, tokenGone, ms);
}

/**
 * Waits without blocking the thread while the ring's lock is held (the caller's `lockRing` with
 * a short `ms` just failed), at most `left` ms and never more than MAX_SLEEP_MS: a holder that
 * died and is reclaimed meanwhile notifies nobody, and the caller takes the lock over at its
 * next try. Resolves at once if the lock is free now.
 */
export function sleepOnRingLockAsync(r: Region, b: number, left: number): Promise<void> {
  const holder = lockOwner(r.i32, b + C_LOCK);
  if (holder === 0) return Promise.resolve();
  return sleepOnLockAsync(r.i32, b + C_LOCK, holder, Math.min(left, MAX_SLEEP_MS));
}

/** Whether lock token `token` names no attached worker (`lockRing`'s takeover test). */
function tokenGone(i32: Int32Array, token: number): boolean {
  return !tokenAlive(i32, token);
}

/** Gives the ring's lock back (its ORDER note is `unlock`'s, in shm/lock.ts). */
export function unlockRing(r: Region, b: number): void {
  unlock(r.i32, b + C_LOCK);
}

/**
 * Queues the `n` frames from `start` at the tail, as a segment (`segment`; `mixed` if its frames
 * may be of several types) or a frame, and counts the send. The caller holds the lock and has
 * seen room (`ringSize` < capacity); it wakes a receiver after unlocking (`wakeReceivers`).
 *
 * OWNER: the lock holder's alone. ORDER: the entry is written before the tail that publishes it;
 * `sent` is bumped after it, before the waiter count is read (`wakeReceivers`).
 */
export function enqueue(r: Region, b: number, capacity: number, start: Paddr, n: number, segment: boolean, mixed: boolean): void {
  const i32 = r.i32;
  const tail = i32[b + C_TAIL];
  const at = b + C_ENTRIES + (tail % capacity) * ENTRY_WORDS; // entryWord, inline: a hot path
  i32[at] = start / PAGE_SIZE + 1;
  i32[at + 1] = n | (segment ? SEGMENT_FLAG : 0) | (mixed ? MIXED_FLAG : 0);
  Atomics.store(i32, b + C_TAIL, tail + 1 === 2 * capacity ? 0 : tail + 1);
  Atomics.add(i32, b + C_SENT, 1);
}

/**
 * Queues one frame (`start`, a reference the queue then holds) if the ring has room and is not
 * ended, waiting at most about `lockMs` for the lock; wakes a receiver. Whether it was queued; if
 * not, `missed` is counted and the reference is still the caller's. A topic's publish: it never
 * waits for room, and never long for a lock.
 * OWNER and ORDER: as `enqueue`, under the lock; `missed` by an atomic add.
 */
export function offerFrame(r: Region, b: number, capacity: number, start: Paddr, lockMs: number): boolean {
  let queued = false;
  if (lockRing(r, b, lockMs)) {
    try {
      if (!ringEnded(r, b) && ringSize(r, b, capacity) < capacity) {
        enqueue(r, b, capacity, start, 1, false, false);
        queued = true;
      }
    } finally {
      unlockRing(r, b);
    }
  }
  if (queued) wakeReceivers(r, b);
  else Atomics.add(r.i32, b + C_MISSED, 1);
  return queued;
}

/** Items a topic could not queue in this ring (`offerFrame`), wrapping at 2^32. */
export function missedCount(r: Region, b: number): number {
  return Atomics.load(r.i32, b + C_MISSED) >>> 0;
}

/** Word index of the head entry of the ring (read with `entryStart` ...), or -1 if it is empty.
 *  Read under the lock. */
export function headEntry(r: Region, b: number, capacity: number): number {
  const i32 = r.i32;
  const head = i32[b + C_HEAD];
  return head === i32[b + C_TAIL] ? -1 : b + C_ENTRIES + (head % capacity) * ENTRY_WORDS;
}

/** The paddr of the first frame of the entry at word `e`. */
export function entryStart(r: Region, e: number): Paddr {
  return (r.i32[e] - 1) * PAGE_SIZE;
}

/** The number of frames of the entry at word `e`. */
export function entryFrames(r: Region, e: number): number {
  return r.i32[e + 1] & COUNT_MASK;
}

/** Whether the entry at word `e` was sent as a `Segment` (else as a `Frame`). */
export function entrySegment(r: Region, e: number): boolean {
  return (r.i32[e + 1] & SEGMENT_FLAG) !== 0;
}

/**
 * Ends the ring: no send is queued after this (`put` looks under the lock). The caller holds the
 * lock, then wakes every waiter of both sides. ORDER: an atomic store under the lock: a sender's
 * look under the lock sees it, and so does a receiver's (an empty ring that is ended stays empty).
 * Both counters then move, so that a waiter that loaded one before the end and sleeps on it
 * after the wake-up does not sleep its full MAX_SLEEP_MS (finding F5 of verify/channel.pml); a
 * waiter that loads it after sees the end in its own look (`ringEnded`).
 */
export function endRing(r: Region, b: number): void {
  Atomics.store(r.i32, b + C_ENDED, 1);
  Atomics.add(r.i32, b + C_SENT, 1);
  Atomics.add(r.i32, b + C_RECEIVED, 1);
}

/**
 * Ends the ring (`endRing`, under its lock, waited for as long as it takes) and wakes every
 * waiter of both sides: `FrameChannel.end`, and a topic's end of its subscriptions.
 */
export function endRingNow(r: Region, b: number): void {
  lockRing(r, b);
  try {
    endRing(r, b);
  } finally {
    unlockRing(r, b);
  }
  wakeAllReceivers(r, b);
  wakeAllSenders(r, b);
}

/** Whether the ring was ended (`endRing`); exact under the lock, a snapshot without it. */
export function ringEnded(r: Region, b: number): boolean {
  return Atomics.load(r.i32, b + C_ENDED) !== 0;
}

/** Whether the entry at word `e` is a segment whose frames may be of several types. */
export function entryMixed(r: Region, e: number): boolean {
  return (r.i32[e + 1] & MIXED_FLAG) !== 0;
}

/**
 * Takes the head entry off the ring (the caller read it with `headEntry`); returns the head's
 * position before, for `putBackHead`. The caller holds the lock, then counts the receive
 * (`countReceived`) or puts the entry back.
 * OWNER: the lock holder's alone. ORDER: one store, after the entry was read: from here on a
 * sender may write over it.
 */
export function takeHead(r: Region, b: number, capacity: number): number {
  const head = r.i32[b + C_HEAD];
  Atomics.store(r.i32, b + C_HEAD, nextPos(head, capacity));
  return head;
}

/**
 * `takeHead` and `countReceived` at once: the head entry (read with `headEntry` ...) leaves the
 * ring, and the receive is counted. The caller holds the lock, and wakes a sender after the
 * unlock (`wakeSenders`). OWNER and ORDER: as `takeHead`, then `countReceived`.
 */
export function dequeue(r: Region, b: number, capacity: number): void {
  const i32 = r.i32;
  const head = i32[b + C_HEAD];
  Atomics.store(i32, b + C_HEAD, head + 1 === 2 * capacity ? 0 : head + 1);
  Atomics.add(i32, b + C_RECEIVED, 1);
}

/** Puts the entry `takeHead` took back at the head (position `pos`), still holding the lock that
 *  `takeHead` was called under: nothing was written over it. OWNER: as `takeHead`. */
export function putBackHead(r: Region, b: number, pos: number): void {
  Atomics.store(r.i32, b + C_HEAD, pos);
}

/** Counts a receive (after `takeHead`, under the lock); a sender is woken after the unlock
 *  (`wakeSenders`). ORDER: bumped before the waiter count is read (see the module). */
export function countReceived(r: Region, b: number): void {
  Atomics.add(r.i32, b + C_RECEIVED, 1);
}

/** The count of sends now: a receiver loads it before its last look at the queue, then sleeps
 *  on it (`sleepOnSent`). */
export function sentCount(r: Region, b: number): number {
  return Atomics.load(r.i32, b + C_SENT);
}

/** The count of receives now: a sender loads it before its last look at the queue, then sleeps
 *  on it (`sleepOnReceived`). */
export function receivedCount(r: Region, b: number): number {
  return Atomics.load(r.i32, b + C_RECEIVED);
}

/** Sleeps, counted as a receive waiter, while the count of sends is `seen`: at most `left` ms,
 *  and never more than MAX_SLEEP_MS (see the module). The caller must be allowed to block. */
export function sleepOnSent(r: Region, b: number, seen: number, left: number): void {
  sleepOn(r.i32, b + C_SENT, seen, b + C_RECV_WAITERS, Math.min(left, MAX_SLEEP_MS));
}

/** `sleepOnSent` for a sender: while the count of receives is `seen`, as a send waiter. */
export function sleepOnReceived(r: Region, b: number, seen: number, left: number): void {
  sleepOn(r.i32, b + C_RECEIVED, seen, b + C_SEND_WAITERS, Math.min(left, MAX_SLEEP_MS));
}

/** `sleepOnSent` without blocking the thread (`Atomics.waitAsync`, or polling). */
export function sleepOnSentAsync(r: Region, b: number, seen: number, left: number): Promise<void> {
  return sleepOnAsync(r.i32, b + C_SENT, seen, b + C_RECV_WAITERS, Math.min(left, MAX_SLEEP_MS));
}

/** `sleepOnReceived` without blocking the thread (`Atomics.waitAsync`, or polling): a sender's await. */
export function sleepOnReceivedAsync(r: Region, b: number, seen: number, left: number): Promise<void> {
  return sleepOnAsync(r.i32, b + C_RECEIVED, seen, b + C_SEND_WAITERS, Math.min(left, MAX_SLEEP_MS));
}

/** Wakes a receive waiter, if any sleeps: after a send, or a refusal of the head entry (the
 *  wake-up is passed on). */
export function wakeReceivers(r: Region, b: number): void {
  wake(r.i32, b + C_SENT, b + C_RECV_WAITERS);
}

/** Wakes every receive waiter (at a close). */
export function wakeAllReceivers(r: Region, b: number): void {
  wake(r.i32, b + C_SENT, b + C_RECV_WAITERS, Infinity);
}

/** Wakes every send waiter (at an end). */
export function wakeAllSenders(r: Region, b: number): void {
  wake(r.i32, b + C_RECEIVED, b + C_SEND_WAITERS, Infinity);
}

/** Wakes a send waiter, if any sleeps: after a receive. */
export function wakeSenders(r: Region, b: number): void {
  wake(r.i32, b + C_RECEIVED, b + C_SEND_WAITERS);
}

/**
 * Calls `fn` with the first frame and the frame count of every entry queued, head first: the
 * last close drops them. Only once no other worker can reach the ring (its last reference is
 * gone), so without the lock.
 */
export function forEachQueued(r: Region, b: number, capacity: number, fn: (start: Paddr, n: number) => void): void {
  const i32 = r.i32;
  for (let pos = i32[b + C_HEAD]; pos !== i32[b + C_TAIL]; pos = nextPos(pos, capacity)) {
    const e = entryWord(b, pos, capacity);
    fn(entryStart(r, e), entryFrames(r, e));
  }
}
