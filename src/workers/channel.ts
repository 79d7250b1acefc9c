/**
 * `FrameChannel`: a bounded queue of frames and segments in shared memory. `send` moves a
 * handle's references into the queue and `receive` / `receiveSegment` move them out to another
 * worker, without `postMessage`: only the address is written. A waiting receiver (or sender)
 * spins briefly, then sleeps (`shm/wait.ts`: `Atomics.wait`, or `Atomics.waitAsync`); it is
 * notified only when it sleeps. A timeout bounds the whole call, the wait for the queue's lock
 * included (held for one queue change by a live worker; until `reclaimWorker` by one that died).
 *
 * The queue lives in frames of the region (metadata type `pageframe.channel`): its words, the
 * lock, the entries and the waits on them are the protocol of `region/channel-ring.ts`; this file
 * is the API over it (handles, types, errors, and the spin before a sleep).
 */
import { checkIntegerIn, checkTimeout, notAHandle } from '../base/args.js';
import { FrameUseError, hex } from '../base/errors.js';
import { PAGE_SIZE } from '../base/units.js';
import { INSPECT, inspectSafely } from '../base/inspect.js';
import type { FrameContext } from '../frame/context.js';
import { canBlock, now } from '../shm/wait.js';
import { SpinBudget } from '../shm/spin.js';
import {
  countReceived,
  dequeue,
  enqueue,
  entryFrames,
  entryMixed,
  entrySegment,
  endRingNow,
  ringEnded,
  entryStart,
  forEachQueued,
  headEntry,
  lockRing,
  putBackHead,
  receivedCount,
  ringAt,
  ringFrames,
  ringSize,
  sentCount,
  sleepOnReceived,
  sleepOnReceivedAsync,
  sleepOnRingLockAsync,
  sleepOnSent,
  sleepOnSentAsync,
  takeHead,
  unlockRing,
  wakeAllReceivers,
  wakeReceivers,
  wakeSenders,
} from '../region/channel-ring.js';
import type { Region } from '../region/region.js';
import { Frame, resolveType } from '../frame/frame.js';
import { takeForgottenRun } from '../frame/meta.js';
import { slotWord } from '../region/meta.js';
import { reachFrames } from '../region/header.js';
import type { Paddr } from '../base/units.js';
import { defineMeta } from '../frame/define-meta.js';
import { checkMeta, type AnyMeta } from '../frame/meta-type.js';
import { checkHandle } from '../frame/handle.js';
import { Segment } from '../frame/segment.js';
import { FrameAllocOptions } from '../frame/allocator.js';

/**
 * The largest capacity a channel may have: 2^20 entries (the queue then takes 2049 frames).
 *
 * @example
 * ```ts
 * try {
 *   FrameChannel.create(sys, MAX_CHANNEL_CAPACITY + 1);
 * } catch (e) {
 *   console.log((e as FrameUseError).code); // 'BadValue'
 * }
 * ```
 */
export const MAX_CHANNEL_CAPACITY = 1 << 20;

/** What `FrameChannel.open` needs: structured-cloneable. */
export interface FrameChannelHandle {
  /** The address of the channel's first frame. */
  readonly paddr: Paddr;
}

/**
 * The channel's frames. A `FrameChannel` object holds a reference to the first frame, whose
 * metadata gives the capacity and the frame count; the channel itself holds one reference to
 * each other frame. The last drop of the first frame (the last `close` in any worker) drops the
 * frames still queued and the channel's other frames.
 */
const ChannelMeta = defineMeta(
  'pageframe.channel',
  { capacity: 'u32', nframes: 'u32' },
  {
    onDrop: (meta, ref) => {
      if (meta.capacity === 0) return; // one of the other frames
      const sys = ref._sys;
      const r = sys._region;
      let error: unknown;
      let failed = false;
      const drop = (paddr: Paddr): void => {
        try {
          Frame.fromRaw(sys, paddr).drop();
        } catch (e) {
          if (!failed) error = e;
          failed = true;
        }
      };
      forEachQueued(r, ringAt(r, ref.paddr), meta.capacity, (start, n) => {
        for (let k = 0; k < n; k++) drop(start + k * PAGE_SIZE);
      });
      for (let k = 1; k < meta.nframes; k++) drop(ref.paddr + k * PAGE_SIZE);
      if (failed) throw error;
    },
  },
);

/** @internal A reference to a channel's first frame. */
export type ChannelFrame = Frame<typeof ChannelMeta>;

/**
 * @internal The `open` of a structure kept in frames of type `meta` (a channel, a topic): a new
 * reference to the frame `handle` names. `FrameUseError('BadValue')` (`needs` says what was
 * expected) for a value that is no handle, `WrongType` (not `what`) for a frame of another type
 * or one `isStart` refuses (its reference dropped again); the errors of `Frame.fromInUse`.
 */
export function frameOfHandle<M extends AnyMeta>(
  sys: FrameContext,
  handle: { readonly paddr: Paddr },
  meta: M,
  needs: string,
  what: string,
  isStart: (frame: Frame<M>) => boolean = () => true,
): Frame<M> {
  const notHandle = notAHandle(handle, ['paddr']);
  if (notHandle !== undefined) throw new FrameUseError('BadValue', `${needs}, not ${notHandle}`);
  const any = Frame.fromInUse(sys, handle.paddr);
  const frame = any.tryAs(meta);
  if (frame === null || !isStart(frame)) {
    (frame ?? any).drop();
    throw new FrameUseError('WrongType', `frame ${hex(handle.paddr)} is not ${what}`);
  }
  return frame;
}

/** `receive`'s refusal of a segment of `n` frames (the entry stays queued). */
function notAFrame(n: number): FrameUseError {
  return new FrameUseError('WrongType', `the next item is a segment of ${n} frames: take it with receiveSegment`);
}

/**
 * A bounded queue of frames and segments in shared memory, for handing them between workers
 * without `postMessage`: `send` moves a handle's references into the queue, `receive` (blocking,
 * with a timeout), `tryReceive` or `receiveAsync` moves them out, in any worker that opened the
 * channel; only addresses are written, never the bytes. The queue lives in frames of the region;
 * the last `close`, in any worker, frees them and drops whatever is still queued.
 *
 * @example
 * ```ts
 * const ch = FrameChannel.create(sys, 16); // room for 16 frames or segments
 * const job = sys.allocSegment(4);
 * job.fill(7);
 * ch.send(job); // the references move into the queue; `job` is consumed
 * // In a worker: FrameChannel.open(sys, handle).receiveSegment() (or await receiveSegmentAsync())
 * const back = ch.receiveSegment()!;
 * console.log(back.bytes()[0], back.nframes); // 7 4
 * back.drop();
 * ch.close();
 * ```
 */
export class FrameChannel implements Disposable {
  private isOpen = true;
  /** This worker's polling budgets before a sleep, for a receive and for room (`shm/spin.ts`). */
  private readonly receiveSpin = new SpinBudget();
  private readonly sendSpin = new SpinBudget();
  /** @internal */
  protected readonly sys: FrameContext;
  /** @internal */
  protected readonly r: Region;
  /** @internal Word index of the channel's ring (`region/channel-ring.ts`). */
  protected readonly base: number;
  /**
   * Entries the queue holds (a frame or a segment each).
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 8);
   * console.log(ch.capacity); // 8
   * ch.close();
   * ```
   */
  readonly capacity: number;

  /** @internal Made by `create`, `open`, and `FrameTopic.subscribe` (a subclass). */
  protected constructor(private readonly first: ChannelFrame) {
    this.sys = first._sys;
    this.r = this.sys._region;
    // The ring's words are in the channel's frames: this worker's views must reach them (a
    // channel made in frames of a grow elsewhere).
    reachFrames(this.r, first.paddr + first.meta.nframes * PAGE_SIZE);
    this.base = ringAt(this.r, first.paddr);
    this.capacity = first.meta.capacity;
  }

  /** @internal What `console.log` shows (Node, Deno, Bun): `FrameChannel(0x3000, 3 of 64 queued)` (`, ended`), or `FrameChannel(0x3000, closed)`. */
  [INSPECT](): string {
    return inspectSafely(
      () => `FrameChannel(${hex(this.first.paddr)}, ${this.size} of ${this.capacity} queued${this.ended ? ', ended' : ''})`,
      () => `FrameChannel(${hex(this.first.paddr)}, closed)`,
    );
  }

  /**
   * A new channel holding up to `capacity` frames or segments (1 .. MAX_CHANNEL_CAPACITY); its
   * queue takes frames of the region (8 bytes an entry). `FrameUseError('BadValue')` for a bad
   * capacity, `AllocError('NoMemory')` if the queue's frames cannot be had.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 64);
   * console.log(ch.size, sys.stats().used); // 0 1: the queue fits in one frame
   * ch.close();
   * ```
   */
  static create(sys: FrameContext, capacity: number): FrameChannel {
    checkIntegerIn(capacity, 1, MAX_CHANNEL_CAPACITY, "a channel's capacity");
    return new FrameChannel(FrameChannel._allocRing(sys, capacity));
  }

  /**
   * @internal The frames of a new channel of `capacity` (checked by the caller): a reference to
   * its first frame, for the constructor.
   */
  protected static _allocRing(sys: FrameContext, capacity: number): ChannelFrame {
    const nframes = ringFrames(capacity);
    let first = true;
    const seg = new FrameAllocOptions(sys).allocSegmentWith(nframes, ChannelMeta, () => {
      if (!first) return undefined;
      first = false;
      return { capacity, nframes };
    });
    const [head, ...rest] = seg;
    for (const f of rest) f.intoRaw(); // the channel's own references to its other frames
    return head;
  }

  /**
   * Opens a channel created in another worker (or again in this one) from its `handle`: a new
   * reference to it, to `close` in turn. `FrameUseError`: `BadValue` for a value that is no
   * handle, `WrongType` for an address that holds no channel; `GetFrameError('Unused')` for a
   * channel closed everywhere.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * const other = FrameSystem.attach(sys.handle, { separate: true }); // as a worker would, with the handles posted to it
   * const there = FrameChannel.open(other, ch.handle);
   * there.send(other.allocFrame());
   * const frame = ch.receive()!;
   * console.log(frame.referenceCount); // 1
   * frame.drop();
   * there.close();
   * ch.close();
   * other.close();
   * ```
   */
  static open(sys: FrameContext, handle: FrameChannelHandle): FrameChannel {
    const first = frameOfHandle(sys, handle, ChannelMeta, 'FrameChannel.open needs the handle of a channel (ch.handle)', 'the start of a FrameChannel', (f) => f.meta.capacity !== 0);
    return new FrameChannel(first);
  }

  /**
   * What another worker passes to `FrameChannel.open` (structured-cloneable).
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * const again = FrameChannel.open(sys, ch.handle); // postMessage(ch.handle) to a worker
   * ch.close(); // `again` still holds the channel
   * console.log(again.size); // 0
   * again.close(); // the last close frees it
   * ```
   */
  get handle(): FrameChannelHandle {
    return { paddr: this.first.paddr };
  }

  /**
   * Entries queued now (racy: other workers send and receive at any time).
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * ch.send(sys.allocFrame());
   * ch.send(sys.allocSegment(2));
   * console.log(ch.size); // 2
   * ch.close(); // drops what is queued
   * ```
   */
  get size(): number {
    return ringSize(this.r, this.base, this.capacity);
  }

  /**
   * Moves the references of `item` (a frame, or a segment: one entry either way) into the
   * queue, waiting up to `timeoutMs` for room (and for the queue's lock). Returns true (the
   * handle is consumed) or false on timeout (the handle is untouched). `FrameUseError`: `Closed`
   * for a closed channel, `Dropped` for a dead handle, `BadValue` for a handle of another region
   * or a timeout that is not a number >= 0 (or `Infinity`), `WouldBlock` for a wait on a
   * browser's main thread.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 1);
   * ch.send(sys.allocFrame()); // room: true at once
   * const extra = sys.allocFrame();
   * console.log(ch.send(extra, 10)); // false: still full after 10 ms; `extra` is untouched
   * extra.drop();
   * ch.close();
   * ```
   */
  send(item: Frame | Segment, timeoutMs = Infinity): boolean {
    checkTimeout(timeoutMs);
    let deadline = NaN; // read the clock only once there is a wait
    for (;;) {
      // The first try waits for the lock a few spins only, the next ones up to the deadline.
      const sent = this.put(item, Number.isNaN(deadline) ? 0 : deadline - now());
      if (sent === true) return true;
      if (Number.isNaN(deadline)) deadline = now() + timeoutMs;
      else if (sent === undefined) return false; // the lock stayed held to the deadline
      if (sent === false && !this.await(true, deadline)) return false;
    }
  }

  /**
   * `send` without blocking the thread: waits for room with `Atomics.waitAsync` (or a timer where
   * that is missing), so the event loop keeps running meanwhile: a producer on a main thread sees
   * its consumers' `'error'` and `'exit'` events, and can stop, even when they died with the queue
   * full. Resolves true once queued (the handle is consumed), or false after `timeoutMs` (the
   * handle untouched, still the caller's). Rejects with the errors of `send` (but never
   * `WouldBlock`: it never blocks), and with `Closed` if this channel object is closed meanwhile.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 1);
   * console.log(await ch.sendAsync(sys.allocFrame())); // true: there was room
   * const extra = sys.allocFrame();
   * setTimeout(() => ch.tryReceive()?.drop(), 5); // as a consumer would, later
   * console.log(await ch.sendAsync(extra, 1000)); // true (once the consumer made room)
   * ch.tryReceive()?.drop();
   * ch.close();
   * ```
   */
  async sendAsync(item: Frame | Segment, timeoutMs = Infinity): Promise<boolean> {
    checkTimeout(timeoutMs);
    let deadline = NaN; // read the clock only once there is a wait
    for (;;) {
      // A few spins for the lock at most: a lock held longer is awaited, as in receiveAsync.
      const sent = this.put(item, 0);
      if (sent === true) return true;
      if (Number.isNaN(deadline)) deadline = now() + timeoutMs;
      if (!(await (sent === false ? this.awaitRoomAsync(deadline) : this.awaitLockAsync(deadline)))) return false;
    }
  }

  /**
   * Sends if there is room now; false otherwise (the handle untouched). Errors as `send`. It
   * waits for the queue's lock as long as it takes (`send` with a timeout bounds that too).
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 1);
   * const a = sys.allocFrame();
   * const b = sys.allocFrame();
   * console.log(ch.trySend(a), ch.trySend(b)); // true false
   * b.drop();
   * ch.close();
   * ```
   */
  trySend(item: Frame | Segment): boolean {
    return this.put(item, Infinity) === true;
  }

  /**
   * `trySend`, waiting at most about `lockMs` for the queue's lock: true if sent, false if there
   * was no room, undefined if the lock could not be had in time (the handle untouched).
   */
  private put(item: Frame | Segment, lockMs: number): boolean | undefined {
    this.check();
    const segment = item instanceof Segment;
    if (!segment) checkHandle(item as unknown, Frame, 'a channel item (a Frame or a Segment)');
    item._check();
    if (item._sys !== this.sys) this.checkSameRegion(item);
    const r = this.r;
    const b = this.base;
    if (!lockRing(r, b, lockMs)) return undefined;
    try {
      if (ringEnded(r, b)) throw new FrameUseError('Closed', 'this FrameChannel was ended (end()): it takes no more sends');
      if (ringSize(r, b, this.capacity) >= this.capacity) return false;
      if (segment) {
        const mixed = item._mixed;
        const { start, end } = item.intoRaw();
        enqueue(r, b, this.capacity, start, (end - start) / PAGE_SIZE, true, mixed);
      } else {
        enqueue(r, b, this.capacity, item.intoRaw(), 1, false, false);
      }
    } finally {
      unlockRing(r, b);
    }
    wakeReceivers(r, b);
    return true;
  }

  /**
   * Takes the next frame, waiting up to `timeoutMs` (default: forever; the wait for the queue's
   * lock included); null on timeout. With `meta`, the frame must be of that type (`WrongType`,
   * and it stays queued); a segment of more than one frame is `WrongType` too (take it with
   * `receiveSegment`). Blocking is not allowed on a browser's main thread (`WouldBlock`): use
   * `receiveAsync` there. A timeout that is not a number >= 0 (or `Infinity`) is `BadValue`.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * console.log(ch.receive(Untyped, 5)); // null: nothing came within 5 ms
   * ch.send(sys.allocFrame());
   * const frame = ch.receive(Untyped)!; // a Frame<Untyped>
   * console.log(frame.bytes().length); // 4096
   * frame.drop();
   * ch.close();
   * ```
   */
  receive<M extends AnyMeta = AnyMeta>(meta?: M, timeoutMs = Infinity): Frame<M> | null {
    return this.receiveWaiting(meta, false, timeoutMs) as Frame<M> | null;
  }

  /**
   * Like `receive`, for any item: a frame comes out as a one-frame segment.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * ch.send(sys.allocFrame());
   * const seg = ch.receiveSegment(Untyped, 100)!;
   * console.log(seg.nframes); // 1
   * seg.drop();
   * ch.close();
   * ```
   */
  receiveSegment<M extends AnyMeta = AnyMeta>(meta?: M, timeoutMs = Infinity): Segment<M> | null {
    return this.receiveWaiting(meta, true, timeoutMs) as Segment<M> | null;
  }

  /** `receive` / `receiveSegment`: takes the next item, waiting for one up to `timeoutMs`. */
  private receiveWaiting(meta: AnyMeta | undefined, asSegment: boolean, timeoutMs: number): Frame | Segment | null {
    checkTimeout(timeoutMs);
    let deadline = NaN; // read the clock only once there is a wait
    for (;;) {
      // The first try waits for the lock a few spins only, the next ones up to the deadline.
      const item = this.take(meta, asSegment, Number.isNaN(deadline) ? 0 : deadline - now());
      if (item === false) return null; // ended, and nothing left
      if (item !== null && item !== undefined) return item;
      if (Number.isNaN(deadline)) deadline = now() + timeoutMs;
      else if (item === undefined) return null; // the lock stayed held to the deadline
      if (item === null && !this.await(false, deadline)) return null;
    }
  }

  /**
   * Takes the next frame if there is one now, else null. Errors as `receive`. It waits for the
   * queue's lock as long as it takes (`receive` with a timeout bounds that too).
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * console.log(ch.tryReceive()); // null
   * ch.send(sys.allocFrame());
   * ch.tryReceive()?.drop();
   * ch.close();
   * ```
   */
  tryReceive<M extends AnyMeta = AnyMeta>(meta?: M): Frame<M> | null {
    return (this.take(meta, false, Infinity) || null) as Frame<M> | null;
  }

  /**
   * Takes the next item as a segment if there is one now, else null.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * ch.send(sys.allocSegment(3));
   * const seg = ch.tryReceiveSegment();
   * console.log(seg?.nframes, ch.tryReceiveSegment()); // 3 null
   * seg?.drop();
   * ch.close();
   * ```
   */
  tryReceiveSegment<M extends AnyMeta = AnyMeta>(meta?: M): Segment<M> | null {
    return (this.take(meta, true, Infinity) || null) as Segment<M> | null;
  }

  /**
   * Like `receive`, without blocking the thread: waits with `Atomics.waitAsync` (or, where that
   * is missing, by polling), for an entry and for the queue's lock alike. Resolves to the frame,
   * or null after `timeoutMs`. Rejects with `FrameUseError('Closed')` if this channel object is
   * closed meanwhile.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * setTimeout(() => ch.send(sys.allocFrame()), 5); // as another worker would, later
   * const frame = await ch.receiveAsync(Untyped); // the event loop keeps running meanwhile
   * console.log(frame !== null); // true
   * frame?.drop();
   * ch.close();
   * ```
   */
  async receiveAsync<M extends AnyMeta = AnyMeta>(meta?: M, timeoutMs = Infinity): Promise<Frame<M> | null> {
    return (await this.receiveAwaiting(meta, false, timeoutMs)) as Frame<M> | null;
  }

  /**
   * Like `receiveSegment`, without blocking the thread.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * ch.send(sys.allocSegment(2));
   * const seg = await ch.receiveSegmentAsync(Untyped, 100);
   * console.log(seg?.nframes, await ch.receiveSegmentAsync(Untyped, 5)); // 2 null
   * seg?.drop();
   * ch.close();
   * ```
   */
  async receiveSegmentAsync<M extends AnyMeta = AnyMeta>(meta?: M, timeoutMs = Infinity): Promise<Segment<M> | null> {
    return (await this.receiveAwaiting(meta, true, timeoutMs)) as Segment<M> | null;
  }

  /** `receiveAsync` / `receiveSegmentAsync`: as `receiveWaiting`, without blocking the thread. */
  private async receiveAwaiting(meta: AnyMeta | undefined, asSegment: boolean | 'any', timeoutMs: number): Promise<Frame | Segment | null> {
    checkTimeout(timeoutMs);
    let deadline = NaN; // read the clock only once there is a wait
    for (;;) {
      // A few spins for the lock at most: a lock held longer (by a worker that died, until it is
      // reclaimed: perhaps by this thread) is awaited, never waited for with the thread blocked.
      const item = this.take(meta, asSegment, 0);
      if (item === false) return null; // ended, and nothing left
      if (item !== null && item !== undefined) return item;
      if (Number.isNaN(deadline)) deadline = now() + timeoutMs;
      if (!(await (item === null ? this.awaitAsync(deadline) : this.awaitLockAsync(deadline)))) return null;
    }
  }

  /**
   * Dequeues the head entry as a frame or a segment (`'any'`: as it was sent); null if empty,
   * false if empty and ended (`end`), undefined if the queue's lock could not be had within about
   * `lockMs`.
   */
  protected take(meta: AnyMeta | undefined, asSegment: boolean | 'any', lockMs: number): Frame | Segment | null | undefined | false {
    this.check();
    if (meta !== undefined) checkMeta(meta); // refused whether or not an item is queued
    const r = this.r;
    const b = this.base;
    let item: Frame | Segment;
    if (!lockRing(r, b, lockMs)) return undefined;
    try {
      const e = headEntry(r, b, this.capacity);
      if (e < 0) return ringEnded(r, b) ? false : null; // empty and ended (looked at under the lock): for good
      const start = entryStart(r, e);
      const n = entryFrames(r, e);
      // The checks (WrongType, ...) come before the head moves: on an error the entry stays.
      try {
        if (asSegment === true || (asSegment === 'any' && entrySegment(r, e))) item = this.restoreSegment(start, n, entryMixed(r, e), meta);
        else if (n !== 1) throw notAFrame(n);
        else item = Frame._restore(this.sys, start, meta, false);
      } catch (e) {
        this.passWakeUpOn();
        throw e;
      }
      if (this.sys.checked) this.dequeueChecked(item, start, n);
      else dequeue(r, b, this.capacity);
    } finally {
      unlockRing(r, b);
    }
    wakeSenders(r, b);
    return item;
  }

  /**
   * Ends the stream, for every worker: no more sends (`send`, `trySend`, `sendAsync` after it,
   * and those waiting for room, are `FrameUseError('Closed')`); receivers still get every item
   * queued, then `receive*` returns null at once (whatever its timeout), `receiveAsync` resolves
   * null, and `for await` over the channel ends. Any worker may call it; a second call does
   * nothing. The channel object stays open (`close` it as usual).
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * ch.send(sys.allocFrame());
   * ch.end(); // the producer is done
   * const last = ch.receive(); // what was queued still comes out
   * console.log(last !== null, ch.receive(), ch.ended); // true null true
   * last?.drop();
   * ch.close();
   * ```
   */
  end(): void {
    this.check();
    endRingNow(this.r, this.base);
  }

  /**
   * Whether `end()` was called (in any worker).
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * console.log(ch.ended); // false
   * ch.end();
   * console.log(ch.ended); // true
   * ch.close();
   * ```
   */
  get ended(): boolean {
    this.check();
    return ringEnded(this.r, this.base);
  }

  /**
   * `for await (const item of ch)`: every item as it was sent (a `Frame`, or a `Segment`), until
   * `end()` and the queue is empty; waits without blocking the thread. Each item is the loop's to
   * drop. Rejects as `receiveAsync` (`Closed` if this object is closed meanwhile).
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * ch.send(sys.allocFrame());
   * ch.send(sys.allocSegment(2));
   * ch.end();
   * const kinds: string[] = [];
   * for await (const item of ch) {
   *   kinds.push(item instanceof Segment ? `segment of ${item.nframes}` : 'frame');
   *   item.drop();
   * }
   * console.log(kinds); // [ 'frame', 'segment of 2' ]
   * ch.close();
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Frame | Segment, void, undefined> {
    for (;;) {
      const item = await this.receiveAwaiting(undefined, 'any', Infinity);
      if (item === null) return;
      yield item;
    }
  }

  /**
   * The channel as a WHATWG `ReadableStream` of its items (each a `Frame`, or a `Segment`, as it
   * was sent; with `meta`, of that type, else the stream errors with `WrongType`), ending at
   * `end()`. It pulls one item per read (`highWaterMark` 0): nothing is taken off the channel
   * before the reader asks, so the channel's capacity is the back-pressure. Each item read is the
   * reader's to drop. Cancelling the stream leaves the channel and what is queued as they are.
   * In Node, `Readable.fromWeb(ch.readable())` makes it a Node stream.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * ch.send(sys.allocFrame());
   * ch.end();
   * const reader = ch.readable(Untyped).getReader();
   * let n = 0;
   * for (let r = await reader.read(); !r.done; r = await reader.read()) {
   *   n += 1;
   *   r.value.drop();
   * }
   * console.log(n); // 1
   * ch.close();
   * ```
   */
  readable<M extends AnyMeta = AnyMeta>(meta?: M): ReadableStream<Frame<M> | Segment<M>> {
    this.check();
    if (meta !== undefined) checkMeta(meta);
    return new ReadableStream<Frame<M> | Segment<M>>(
      {
        pull: async (controller) => {
          const item = await this.receiveAwaiting(meta, 'any', Infinity);
          if (item === null) controller.close();
          else controller.enqueue(item as Frame<M> | Segment<M>);
        },
      },
      { highWaterMark: 0 },
    );
  }

  /**
   * The channel as a WHATWG `WritableStream`: each chunk written (a `Frame` or a `Segment`,
   * consumed) is sent with `sendAsync`, so a write resolves once the item is queued, and the
   * writer's `ready` waits while the channel is full (`highWaterMark` 1: besides the item being
   * sent, at most one waits in the stream, so `pipeTo` flows and nothing piles up). Closing the
   * stream (or aborting it) ends the channel (`end()`): the readers get what is queued, then the
   * end.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * const writer = ch.writable().getWriter();
   * await writer.write(sys.allocFrame());
   * await writer.close(); // ends the channel
   * console.log(ch.size, ch.ended); // 1 true
   * ch.close(); // drops what is queued
   * ```
   */
  writable(): WritableStream<Frame | Segment> {
    this.check();
    return new WritableStream<Frame | Segment>(
      {
        write: async (item) => {
          await this.sendAsync(item);
        },
        close: () => this.end(),
        abort: () => this.end(),
      },
      { highWaterMark: 1 }, // 0 would never be 'ready': pipeTo waits for a positive desiredSize
    );
  }

  /**
   * Drops this worker's reference to the channel. When the last reference in any worker goes,
   * the frames still queued are dropped and the channel's frames freed. A `receiveAsync` of this
   * object still pending rejects with `FrameUseError('Closed')`. Idempotent.
   *
   * @example
   * ```ts
   * const ch = FrameChannel.create(sys, 4);
   * ch.send(sys.allocFrame());
   * ch.close(); // the last reference: the queued frame is dropped, the queue freed
   * console.log(sys.stats().used); // 0
   * ```
   */
  close(): void {
    if (!this.isOpen) return;
    this.closeChannel();
  }

  /** @internal `close`'s work, once (a subclass's `close` ends with it). */
  protected closeChannel(): void {
    this.isOpen = false;
    // Wake the waiters (a `receiveAsync` of this object pending in this worker then rejects with
    // `Closed`; others see a spurious wake-up and wait again) before the queue may be freed.
    wakeAllReceivers(this.r, this.base);
    this.first.drop();
  }

  /**
   * `using` support: `close()`.
   *
   * @example
   * ```ts
   * {
   *   using ch = FrameChannel.create(sys, 4);
   *   ch.send(sys.allocFrame());
   * } // closed here
   * console.log(sys.stats().used); // 0
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `trySend`'s check of an item of another `FrameContext`: it must be of the same region. */
  private checkSameRegion(item: Frame | Segment): void {
    const other = item._sys.handle;
    if (other.memory !== this.sys.handle.memory || other.offset !== this.sys.handle.offset) {
      throw new FrameUseError('BadValue', `${String(item)} belongs to another region`);
    }
  }

  /**
   * `dequeue` in checked mode: the head entry (`item`, of `n` frames from `start`) leaves the
   * ring, then the forgotten-reference records of its frames are taken and the receive counted;
   * if the records are not there, the entry is put back, `item` let go without a drop, and the
   * error thrown. The caller holds the lock.
   *
   * ORDER: checked mode's forgotten-reference records are taken after the head has moved. A
   * receiver that dies in between holds the item, as one that dies after returning it; the other
   * order would leave the entry queued with its records gone, and every later take of it would
   * fail (from_raw_requires).
   */
  private dequeueChecked(item: Frame | Segment, start: Paddr, n: number): void {
    const head = takeHead(this.r, this.base, this.capacity);
    try {
      takeForgottenRun(this.sys, start, start + n * PAGE_SIZE);
    } catch (e) {
      putBackHead(this.r, this.base, head); // the entry stays
      item._consume();
      this.passWakeUpOn();
      throw e;
    }
    countReceived(this.r, this.base);
  }

  /** @internal Whether this object is still open. */
  protected get open(): boolean {
    return this.isOpen;
  }

  /** @internal Throws `Closed` for a closed object (or system). */
  protected check(): void {
    if (!this.isOpen) throw this.closed();
    if (this.sys._closed) this.sys._assertOpen();
  }

  /** The error of a call on a closed channel object (out of `check`, which is on every hot path). */
  private closed(): FrameUseError {
    return new FrameUseError('Closed', `FrameChannel(${hex(this.first.paddr)}) was closed`);
  }

  /** A receiver that refuses the head entry may have been the one woken for it: wake another. */
  private passWakeUpOn(): void {
    wakeReceivers(this.r, this.base);
  }

  /**
   * The segment of a dequeued entry. The queue vouches that its references were forgotten by a
   * `send`, so outside checked mode only the type is checked (on the first frame, or on every
   * frame of a mixed segment) and the hand-off costs the same for 1 frame or 1 MiB.
   */
  private restoreSegment(start: Paddr, n: number, mixed: boolean, meta: AnyMeta | undefined): Segment {
    const sys = this.sys;
    const end = start + n * PAGE_SIZE;
    if (sys.checked || (mixed && meta !== undefined)) return Segment._restore(sys, { start, end }, meta, false);
    const type = resolveType(sys, slotWord(sys._region, start / PAGE_SIZE), start, meta);
    return new Segment(sys, start, end, type, mixed);
  }

  /**
   * Waits until there is room (`forRoom`: a sender) or an entry (a receiver), or the deadline
   * (false then): spins on the queue first, then sleeps on the ring's counter of the other side's
   * changes (receives for senders, sends for receivers), at most MAX_SLEEP_MS of the ring.
   */
  private await(forRoom: boolean, deadline: number): boolean {
    const r = this.r;
    const b = this.base;
    // Ready also once the ring is ended: the caller's next try says so at once (F5).
    const ready = forRoom ? (): boolean => this.size < this.capacity || ringEnded(r, b) : (): boolean => this.size > 0 || ringEnded(r, b);
    const spin = forRoom ? this.sendSpin : this.receiveSpin;
    if (spin.spin(ready, deadline)) return true;
    const seen = forRoom ? receivedCount(r, b) : sentCount(r, b);
    if (ready()) return true;
    const left = deadline - now();
    if (left <= 0) return false;
    if (!canBlock()) {
      throw new FrameUseError('WouldBlock', 'this thread cannot block (a browser main thread): use receiveAsync, or a timeout of 0');
    }
    const t0 = now();
    if (forRoom) sleepOnReceived(r, b, seen, left);
    else sleepOnSent(r, b, seen, left);
    // More than one change came while this waiter slept: its partner went on without it.
    spin.slept(now() - t0, forRoom ? this.capacity - this.size >= 2 : this.size >= 2);
    return true;
  }

  /** Waits for the queue's lock without blocking the thread; false at the deadline. */
  private async awaitLockAsync(deadline: number): Promise<boolean> {
    const left = deadline - now();
    if (left <= 0) return false;
    await sleepOnRingLockAsync(this.r, this.base, left);
    return true;
  }

  /** Waits for room (a receive) without blocking the thread; false at the deadline. */
  private async awaitRoomAsync(deadline: number): Promise<boolean> {
    const received = receivedCount(this.r, this.base);
    if (this.size < this.capacity || ringEnded(this.r, this.base)) return true;
    const left = deadline - now();
    if (left <= 0) return false;
    await sleepOnReceivedAsync(this.r, this.base, received, left);
    return true;
  }

  /** Waits for a send without blocking the thread; false at the deadline. */
  private async awaitAsync(deadline: number): Promise<boolean> {
    const sent = sentCount(this.r, this.base);
    if (this.size > 0 || ringEnded(this.r, this.base)) return true;
    const left = deadline - now();
    if (left <= 0) return false;
    await sleepOnSentAsync(this.r, this.base, sent, left);
    return true;
  }
}
