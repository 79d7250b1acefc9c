/**
 * The table of a `FrameTopic`: who subscribed, the last frame published, and the topic's lock,
 * in the first words of the topic's frame (metadata type `pageframe.topic`). The protocol half of
 * `workers/topic.ts`, which keeps the API (handles, references, errors): nothing else names
 * these words. Each subscription is a channel ring of its own (`region/channel-ring.ts`).
 *
 *   header: lock owner | lock sleepers | latest | published | ended | open | subscribers | (unused to word 16)
 *   entry:  channel (its first frame's index + 1; 0: a free entry) | subscriber's lock token
 *
 * Who writes: the holder of the topic's lock, and only through the functions below. Each change
 * of the table ends with one final write (an entry's channel word, or `latest`), so a lock whose
 * holder died mid-change is taken over with the table whole (as the channel's ring: `lockTopic`,
 * verify/topic.pml). `published` and `open` are counters changed by atomic adds.
 *
 * The rule that keeps a subscription's ring alive while a publisher writes into it: a publisher
 * sends only under the topic's lock, to the entries it sees there; a subscriber (or the sweep of
 * a gone one) takes its entry out under the lock before the ring's references are dropped. So no
 * send reaches a ring after its entry left the table (verify/topic.pml, BROKEN_UNLOCKED_PUBLISH).
 *
 * ORDER: `latest`, `ended`, `subscribers` and the entries are read by others only under the lock
 * (snapshots without it: `subscriberCount`, `topicEnded`). The words are zero when the topic's
 * frame is allocated (zeroed): no subscriber, no latest, lock free.
 */
import { PAGE_SIZE, type Paddr } from '../base/units.js';
import { lockTakingOver, unlock } from '../shm/lock.js';
import type { Region } from './region.js';
import { tokenAlive } from './workers.js';

const T_LOCK = 0; // two words: owner token, sleepers (shm/lock.ts)
/** The frame kept for `latest()`: its index + 1, 0 for none. The topic holds one reference to it. */
const T_LATEST = 2;
/** Publishes so far (wrapping at 2^32). */
const T_PUBLISHED = 3;
/** 1 once the topic was ended: no more publishes or subscriptions. */
const T_ENDED = 4;
/** Open `FrameTopic` objects, in every worker: the last `close` ends the topic. */
const T_OPEN = 5;
/** Entries in use: the subscriber count. */
const T_SUBSCRIBERS = 6;
const T_ENTRIES = 16;
const ENTRY_WORDS = 2;
const E_CHANNEL = 0;
const E_TOKEN = 1;

/** The most subscriptions a topic holds at once: as many entries as fit in its one frame. */
export const TOPIC_ENTRIES = (PAGE_SIZE / 4 - T_ENTRIES) / ENTRY_WORDS;

/** Word index of the table of the topic whose frame is at `paddr`. */
export function topicAt(r: Region, paddr: Paddr): number {
  return (r.frameByte + paddr) >> 2;
}

/** Whether lock token `token` names no attached worker (`lockTopic`'s takeover test). */
function tokenGone(i32: Int32Array, token: number): boolean {
  return !tokenAlive(i32, token);
}

/**
 * Takes the topic's lock for this worker (`r.token`), waiting as long as it takes. A holder that
 * died and was reclaimed (its token names no attached worker) is taken over: the table is whole
 * (see the module). One that died and is not reclaimed yet holds it until it is.
 */
export function lockTopic(r: Region, b: number): void {
  lockTakingOver(r.i32, b + T_LOCK, r.token, tokenGone);
}

/** Gives the topic's lock back (its ORDER note is `unlock`'s, in shm/lock.ts). */
export function unlockTopic(r: Region, b: number): void {
  unlock(r.i32, b + T_LOCK);
}

/**
 * Files a subscription: the channel whose first frame is at `channel`, of the worker whose lock
 * token is `token`. Returns its entry (its word index), or -1 if the table is full. The caller
 * holds the lock.
 * OWNER: the lock holder's alone. ORDER: the token is written before the channel word, whose
 * store publishes the entry (the one final write: a holder that dies before it left a free entry).
 */
export function addSubscriber(r: Region, b: number, channel: Paddr, token: number): number {
  const i32 = r.i32;
  for (let k = 0; k < TOPIC_ENTRIES; k++) {
    const e = b + T_ENTRIES + k * ENTRY_WORDS;
    if (i32[e + E_CHANNEL] !== 0) continue;
    i32[e + E_TOKEN] = token;
    Atomics.store(i32, e + E_CHANNEL, channel / PAGE_SIZE + 1);
    Atomics.add(i32, b + T_SUBSCRIBERS, 1);
    return e;
  }
  return -1;
}

/**
 * Takes the subscription of `channel` out of the table: whether it was there. The caller holds
 * the lock; from its unlock on, no publisher sends to that channel.
 * OWNER: the lock holder's alone. ORDER: one store frees the entry (the final write).
 */
export function removeSubscriber(r: Region, b: number, channel: Paddr): boolean {
  const i32 = r.i32;
  const want = channel / PAGE_SIZE + 1;
  for (let k = 0; k < TOPIC_ENTRIES; k++) {
    const e = b + T_ENTRIES + k * ENTRY_WORDS;
    if (i32[e + E_CHANNEL] !== want) continue;
    Atomics.store(i32, e + E_CHANNEL, 0);
    Atomics.sub(i32, b + T_SUBSCRIBERS, 1);
    return true;
  }
  return false;
}

/**
 * Calls `fn` with the channel and the subscriber's token of every subscription in the table;
 * `fn` returns false to take the entry out (a subscriber that is gone). The caller holds the lock.
 * OWNER and ORDER: as `removeSubscriber`.
 */
export function forEachSubscriber(r: Region, b: number, fn: (channel: Paddr, token: number) => boolean): void {
  const i32 = r.i32;
  for (let k = 0; k < TOPIC_ENTRIES; k++) {
    const e = b + T_ENTRIES + k * ENTRY_WORDS;
    const c = i32[e + E_CHANNEL];
    if (c === 0) continue;
    if (!fn((c - 1) * PAGE_SIZE, i32[e + E_TOKEN])) {
      Atomics.store(i32, e + E_CHANNEL, 0);
      Atomics.sub(i32, b + T_SUBSCRIBERS, 1);
    }
  }
}

/** Whether the subscriber of lock token `token` is gone: its worker was reclaimed or closed. */
export function subscriberGone(r: Region, token: number): boolean {
  return !tokenAlive(r.i32, token);
}

/** Subscriptions in the table now (a snapshot without the lock). */
export function subscriberCount(r: Region, b: number): number {
  return Atomics.load(r.i32, b + T_SUBSCRIBERS);
}

/**
 * Makes `frame` (a reference the topic now holds) the latest, and counts the publish; returns the
 * frame it replaces (its reference is the caller's to drop, after the unlock), or -1 for none.
 * With `frame` -1, clears the latest. The caller holds the lock.
 * OWNER: the lock holder's alone. ORDER: one store (the final write); `published` by an atomic add.
 */
export function swapLatest(r: Region, b: number, frame: Paddr | -1): Paddr | -1 {
  const i32 = r.i32;
  const before = i32[b + T_LATEST];
  Atomics.store(i32, b + T_LATEST, frame === -1 ? 0 : frame / PAGE_SIZE + 1);
  if (frame !== -1) Atomics.add(i32, b + T_PUBLISHED, 1);
  return before === 0 ? -1 : (before - 1) * PAGE_SIZE;
}

/** The latest frame (under the lock, to take a reference to it), or -1 for none. */
export function latestOf(r: Region, b: number): Paddr | -1 {
  const v = Atomics.load(r.i32, b + T_LATEST);
  return v === 0 ? -1 : (v - 1) * PAGE_SIZE;
}

/** Publishes so far (wrapping at 2^32). */
export function publishedCount(r: Region, b: number): number {
  return Atomics.load(r.i32, b + T_PUBLISHED) >>> 0;
}

/** Ends the topic: no more publishes or subscriptions. The caller holds the lock. ORDER: one store, read under the lock. */
export function endTopic(r: Region, b: number): void {
  Atomics.store(r.i32, b + T_ENDED, 1);
}

/** Whether the topic was ended (exact under the lock, a snapshot without it). */
export function topicEnded(r: Region, b: number): boolean {
  return Atomics.load(r.i32, b + T_ENDED) !== 0;
}

/**
 * Counts an open `FrameTopic` object (`by` +1 at `create`/`open`, -1 at `close`); returns the
 * count after. ORDER: an atomic add: the close that brings it to 0 is the one that ends the topic.
 */
export function countOpen(r: Region, b: number, by: 1 | -1): number {
  return Atomics.add(r.i32, b + T_OPEN, by) + by;
}
