/**
 * `FrameTopic`: one frame to every subscriber, without a copy. Each subscription is a
 * `FrameChannel` of its own (a bounded queue, `depth` entries); `publish` puts one reference to
 * the frame in each subscriber's queue and keeps one for `latest()`, for late joiners. A full
 * queue is never waited for: that subscriber misses the frame, and its `missed` count says so.
 *
 * The topic is a frame of the region (metadata type `pageframe.topic`) whose words are the
 * protocol of `region/topic.ts`: the lock, the table of subscriptions, the latest frame. A
 * subscription holds a reference to its channel and one to the topic; the table holds none (a
 * publisher sends only to the entries it sees under the topic's lock, and a subscriber takes its
 * entry out under that lock before it lets go of its channel). A subscriber whose worker is gone
 * (reclaimed, or closed with the subscription open) is swept: its entry taken out, its queue
 * ended and emptied (the frames queued for it dropped), and the two references it held dropped
 * for it, by `reclaimWorker` and by the next `publish` or `subscribe`.
 */
import { checkIntegerIn, describe } from '../base/args.js';
import { INSPECT, inspectSafely } from '../base/inspect.js';
import { FrameUseError, hex } from '../base/errors.js';
import { PAGE_SIZE, type Paddr } from '../base/units.js';
import type { FrameContext } from '../frame/context.js';
import { defineMeta } from '../frame/define-meta.js';
import { Frame, resolveType } from '../frame/frame.js';
import { checkHandle } from '../frame/handle.js';
import { checkMeta, lookupTypeId, type AnyMeta } from '../frame/meta-type.js';
import { FrameAllocOptions } from '../frame/allocator.js';
import type { Segment } from '../frame/segment.js';
import { endRingNow, missedCount, offerFrame, ringAt, ringFrames } from '../region/channel-ring.js';
import { reachFrames } from '../region/header.js';
import { countOf, slotWord, typeOf } from '../region/meta.js';
import {
  TOPIC_ENTRIES,
  addSubscriber,
  countOpen,
  endTopic,
  forEachSubscriber,
  latestOf,
  lockTopic,
  publishedCount,
  removeSubscriber,
  subscriberCount,
  subscriberGone,
  swapLatest,
  topicAt,
  topicEnded,
  unlockTopic,
} from '../region/topic.js';
import { FrameChannel, MAX_CHANNEL_CAPACITY, frameOfHandle, type ChannelFrame } from './channel.js';

/**
 * The most subscriptions a topic holds at once (the entries of its table, in one frame).
 *
 * @example
 * ```ts
 * console.log(MAX_TOPIC_SUBSCRIBERS); // 504
 * ```
 */
export const MAX_TOPIC_SUBSCRIBERS = TOPIC_ENTRIES;

/**
 * How long `publish` waits for a subscription queue's lock before it counts the frame missed for
 * that subscriber (ms). A live receiver holds it for one dequeue; one that died holding it, until
 * it is reclaimed: the publisher does not wait for that.
 */
const OFFER_LOCK_MS = 1;

/** What `FrameTopic.open` needs: structured-cloneable. */
export interface FrameTopicHandle {
  /** The address of the topic's frame. */
  readonly paddr: Paddr;
}

/**
 * `FrameTopic.create`'s options.
 *
 * @example
 * ```ts
 * const options: FrameTopicOptions = { depth: 32 }; // each subscriber may fall 32 frames behind
 * const topic = FrameTopic.create(sys, options);
 * console.log(topic.depth); // 32
 * topic.close();
 * ```
 */
export interface FrameTopicOptions {
  /**
   * The capacity of each subscription's queue (1 .. MAX_CHANNEL_CAPACITY): how many published
   * frames a subscriber may fall behind before it misses some.
   */
  readonly depth: number;
}

/**
 * The topic's frame. The last drop (no `FrameTopic` object and no subscription open anywhere)
 * drops the latest frame if the topic still holds it.
 */
const TopicMeta = defineMeta(
  'pageframe.topic',
  { depth: 'u32' },
  {
    onDrop: (_meta, ref) => {
      const sys = ref._sys;
      const old = swapLatest(sys._region, topicAt(sys._region, ref.paddr), -1); // nobody else can reach it now
      if (old !== -1) Frame.fromRaw(sys, old).drop();
    },
  },
);

type TopicFrame = Frame<typeof TopicMeta>;

/**
 * Broadcast of frames between workers: `publish(frame)` gives every subscriber a reference to the
 * same frame (no copy), in its own bounded queue (a `FrameChannel`); a subscriber that falls
 * `depth` frames behind misses the next ones (counted in its `missed`), so a slow or dead
 * subscriber never holds a publisher up. `latest()` is the last frame published, for late
 * joiners. Any worker may open the topic (`FrameTopic.open(sys, topic.handle)`), publish and
 * subscribe; the last `close` of a `FrameTopic` object ends the topic (every subscription then
 * ends once its queue is read).
 *
 * @example
 * ```ts
 * const topic = FrameTopic.create(sys, { depth: 8 });
 * const a = topic.subscribe(); // in a worker: FrameTopic.open(sys, handle).subscribe()
 * const b = topic.subscribe();
 * const frame = sys.allocFrame();
 * frame.bytes()[0] = 42;
 * console.log(topic.publish(frame)); // 2: one reference for each subscriber, one kept as latest
 * const got = a.receive()!;
 * console.log(got.bytes()[0], got.referenceCount); // 42 3
 * got.drop();
 * b.close(); // unsubscribes; what was queued for it is dropped
 * a.close();
 * topic.close(); // the last close: the latest frame is dropped too
 * console.log(sys.stats().used); // 0
 * ```
 */
export class FrameTopic implements Disposable {
  private isOpen = true;
  private readonly sys: FrameContext;
  private readonly b: number;
  /**
   * The capacity of each subscription's queue.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 16 });
   * console.log(topic.depth); // 16
   * topic.close();
   * ```
   */
  readonly depth: number;

  private constructor(private readonly frame: TopicFrame) {
    this.sys = frame._sys;
    reachFrames(this.sys._region, frame.paddr + PAGE_SIZE);
    this.b = topicAt(this.sys._region, frame.paddr);
    this.depth = frame.meta.depth;
    countOpen(this.sys._region, this.b, 1);
  }

  /** @internal `console.log(topic)`: `FrameTopic(0x3000, 2 subscribers, 5 published, depth 8)`. */
  [INSPECT](): string {
    return inspectSafely(
      () => `FrameTopic(${hex(this.frame.paddr)}, ${this.subscribers} subscriber${this.subscribers === 1 ? '' : 's'}, ${this.published} published, depth ${this.depth}${this.ended ? ', ended' : ''})`,
      () => `FrameTopic(${hex(this.frame.paddr)}, closed)`,
    );
  }

  /**
   * A new topic in one frame of the region; each subscription's queue holds `depth` frames.
   * `FrameUseError('BadValue')` for options that are not `{ depth }` with an integer depth in
   * 1..MAX_CHANNEL_CAPACITY; `AllocError('NoMemory')` if no frame can be had.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * console.log(topic.subscribers, topic.published); // 0 0
   * topic.close();
   * ```
   */
  static create(sys: FrameContext, options: FrameTopicOptions): FrameTopic {
    if (options === null || typeof options !== 'object') {
      throw new FrameUseError('BadValue', `FrameTopic.create needs options { depth }, not ${describe(options)}`);
    }
    const depth = options.depth;
    checkIntegerIn(depth, 1, MAX_CHANNEL_CAPACITY, "a topic's depth");
    return new FrameTopic(new FrameAllocOptions(sys).allocFrameWith(TopicMeta, { depth }));
  }

  /**
   * Opens a topic created in another worker (or again in this one) from its `handle`: a new
   * `FrameTopic` object, to `close` in turn. `FrameUseError`: `BadValue` for a value that is no
   * handle, `WrongType` for an address that holds no topic; `GetFrameError('Unused')` for a topic
   * closed everywhere.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * const other = FrameSystem.attach(sys.handle, { separate: true }); // as a worker would
   * const there = FrameTopic.open(other, topic.handle);
   * const sub = there.subscribe();
   * topic.publish(sys.allocFrame());
   * const frame = sub.receive()!;
   * const last = topic.latest()!;
   * console.log(frame.paddr === last.paddr); // true: the same frame, no copy
   * frame.drop();
   * last.drop();
   * sub.close();
   * there.close();
   * topic.close();
   * other.close();
   * ```
   */
  static open(sys: FrameContext, handle: FrameTopicHandle): FrameTopic {
    return new FrameTopic(frameOfHandle(sys, handle, TopicMeta, 'FrameTopic.open needs the handle of a topic (topic.handle)', 'a FrameTopic'));
  }

  /**
   * What another worker passes to `FrameTopic.open` (structured-cloneable).
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * const again = FrameTopic.open(sys, topic.handle); // postMessage(topic.handle) to a worker
   * console.log(again.depth); // 4
   * again.close();
   * topic.close();
   * ```
   */
  get handle(): FrameTopicHandle {
    return { paddr: this.frame.paddr };
  }

  /**
   * Subscriptions now, in every worker (racy: others subscribe and leave at any time).
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * const sub = topic.subscribe();
   * console.log(topic.subscribers); // 1
   * sub.close();
   * console.log(topic.subscribers); // 0
   * topic.close();
   * ```
   */
  get subscribers(): number {
    this.check();
    return subscriberCount(this.sys._region, this.b);
  }

  /**
   * Frames published so far, by every worker (wrapping at 2^32).
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * topic.publish(sys.allocFrame());
   * console.log(topic.published); // 1
   * topic.close(); // drops the latest frame
   * ```
   */
  get published(): number {
    this.check();
    return publishedCount(this.sys._region, this.b);
  }

  /**
   * Whether the topic was ended (`end()`, or the last `close`), in any worker.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * topic.end();
   * console.log(topic.ended); // true
   * topic.close();
   * ```
   */
  get ended(): boolean {
    this.check();
    return topicEnded(this.sys._region, this.b);
  }

  /**
   * A new subscription: a `FrameChannel` of `depth` entries (a frame of the region for up to 504)
   * that receives every frame published from now on, until it is closed (`close`, or
   * `unsubscribe`) or the topic ends. The subscription belongs to this worker: when the worker is
   * reclaimed (or closes its system with the subscription open), it is taken out of the topic
   * and the frames queued for it are dropped. `FrameUseError`: `Closed` for a closed or ended
   * topic, `TooManySubscribers` past MAX_TOPIC_SUBSCRIBERS; `AllocError('NoMemory')`.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 2 });
   * const sub = topic.subscribe();
   * for (let i = 0; i < 3; i++) topic.publish(sys.allocFrame());
   * console.log(sub.size, sub.missed); // 2 1: the queue holds 2, the third was missed
   * sub.close();
   * topic.close();
   * ```
   */
  subscribe(): TopicSubscription {
    this.check();
    const sys = this.sys;
    const r = sys._region;
    const ring = TopicSubscription._ring(sys, this.depth);
    let entry = -1;
    let ended = false;
    let gone: Paddr[] = [];
    lockTopic(r, this.b);
    try {
      gone = takeGoneLocked(this.sys, this.b);
      ended = topicEnded(r, this.b);
      if (!ended) entry = addSubscriber(r, this.b, ring.paddr, r.token);
    } finally {
      unlockTopic(r, this.b);
    }
    sweepGone(sys, this.frame.paddr, gone);
    if (entry < 0) {
      ring.drop(); // the channel's last reference: its frames go back
      if (ended) throw this.endedError();
      throw new FrameUseError('TooManySubscribers', `FrameTopic(${hex(this.frame.paddr)}) has ${MAX_TOPIC_SUBSCRIBERS} subscriptions already`);
    }
    return new TopicSubscription(ring, this.frame.clone());
  }

  /**
   * Publishes `frame` (a shared handle, consumed): each subscriber's queue gets a reference to it
   * (no copy) and the topic keeps one as the latest, dropping the one before. Returns how many
   * subscribers got it; a subscriber whose queue was full (or ended) misses it, and its `missed`
   * count goes up: never silent, and never a wait for room. `FrameUseError`: `Closed` for a
   * closed or ended topic, `Dropped` for a dead handle, `BadValue` for a value that is not a
   * `Frame` of this region; the frame is then still the caller's.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * console.log(topic.publish(sys.allocFrame())); // 0: no subscriber yet; it is the latest now
   * const late = topic.subscribe();
   * const last = topic.latest()!; // a late joiner starts from the latest frame
   * console.log(last.referenceCount); // 2: the topic's and this one
   * last.drop();
   * late.close();
   * topic.close();
   * ```
   */
  publish(frame: Frame): number {
    this.check();
    checkHandle(frame as unknown, Frame, 'a published item');
    frame._check();
    const sys = this.sys;
    if (frame._sys !== sys) checkSameRegion(sys, frame);
    const r = sys._region;
    const b = this.b;
    const depth = this.depth;
    const size = ringFrames(depth) * PAGE_SIZE;
    let delivered = 0;
    let old: Paddr | -1 = -1;
    const gone: Paddr[] = [];
    lockTopic(r, b);
    try {
      if (topicEnded(r, b)) throw this.endedError();
      forEachSubscriber(r, b, (channel, token) => {
        if (subscriberGone(r, token)) {
          gone.push(channel);
          return false;
        }
        reachFrames(r, channel + size);
        const raw = frame.clone().intoRaw();
        if (offerFrame(r, ringAt(r, channel), depth, raw, OFFER_LOCK_MS)) delivered++;
        else Frame.fromRaw(sys, raw).drop(); // not the last: the caller's handle holds one
        return true;
      });
      old = swapLatest(r, b, frame.intoRaw());
    } finally {
      unlockTopic(r, b);
    }
    if (old !== -1) Frame.fromRaw(sys, old).drop(); // outside the lock: it may run an onDrop
    sweepGone(sys, this.frame.paddr, gone);
    return delivered;
  }

  /**
   * A new reference to the last frame published (the caller drops it), or null if none was (or
   * the topic was closed everywhere since). With `meta`, the frame must be of that type
   * (`FrameUseError('WrongType')`).
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * console.log(topic.latest()); // null
   * topic.publish(sys.allocFrame());
   * const last = topic.latest(Untyped)!;
   * console.log(last.bytes().length); // 4096
   * last.drop();
   * topic.close();
   * ```
   */
  latest<M extends AnyMeta = AnyMeta>(meta?: M): Frame<M> | null {
    this.check();
    if (meta !== undefined) checkMeta(meta);
    const sys = this.sys;
    const r = sys._region;
    let frame: Frame | null = null;
    lockTopic(r, this.b);
    try {
      const paddr = latestOf(r, this.b);
      if (paddr !== -1) {
        if (meta !== undefined) resolveType(sys, slotWord(r, paddr / PAGE_SIZE), paddr, meta); // WrongType, before a reference is taken
        frame = Frame.fromInUse(sys, paddr); // held by the topic: in use
      }
    } finally {
      unlockTopic(r, this.b);
    }
    return (meta === undefined || frame === null ? frame : frame.tryAs(meta)) as Frame<M> | null;
  }

  /**
   * Ends the topic, for every worker: no more publishes or subscriptions (`Closed`); each
   * subscription ends once its queue is read (`receive` then returns null, `for await` stops).
   * The latest frame stays until the last `close`. A second call does nothing.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * const sub = topic.subscribe();
   * topic.publish(sys.allocFrame());
   * topic.end();
   * let n = 0;
   * for await (const item of sub) {
   *   n += 1;
   *   item.drop();
   * }
   * console.log(n, sub.ended); // 1 true
   * sub.close();
   * topic.close();
   * ```
   */
  end(): void {
    this.check();
    this.endAll(false);
  }

  /**
   * Closes this `FrameTopic` object. The last close in any worker ends the topic (as `end()`)
   * and drops the latest frame; the topic's frame itself goes back once every subscription is
   * closed too. Idempotent.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * topic.publish(sys.allocFrame());
   * topic.close(); // the last close: the latest frame and the topic's frame go back
   * console.log(sys.stats().used); // 0
   * ```
   */
  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    if (countOpen(this.sys._region, this.b, -1) === 0) this.endAll(true);
    this.frame.drop();
  }

  /**
   * `using` support: `close()`.
   *
   * @example
   * ```ts
   * {
   *   using topic = FrameTopic.create(sys, { depth: 4 });
   *   topic.publish(sys.allocFrame());
   * } // closed here
   * console.log(sys.stats().used); // 0
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Ends the topic and every subscription's queue; with `dropLatest`, lets go of the latest frame. */
  private endAll(dropLatest: boolean): void {
    const sys = this.sys;
    const r = sys._region;
    const b = this.b;
    const size = ringFrames(this.depth) * PAGE_SIZE;
    let old: Paddr | -1 = -1;
    let gone: Paddr[] = [];
    lockTopic(r, b);
    try {
      gone = takeGoneLocked(this.sys, this.b);
      endTopic(r, b);
      forEachSubscriber(r, b, (channel) => {
        reachFrames(r, channel + size);
        endRingNow(r, ringAt(r, channel)); // topic lock, then ring lock: the order publish takes them in
        return true;
      });
      if (dropLatest) old = swapLatest(r, b, -1);
    } finally {
      unlockTopic(r, b);
    }
    if (old !== -1) Frame.fromRaw(sys, old).drop();
    sweepGone(sys, this.frame.paddr, gone);
  }

  private check(): void {
    if (!this.isOpen) throw new FrameUseError('Closed', `FrameTopic(${hex(this.frame.paddr)}) was closed`);
    this.sys._assertOpen();
  }

  private endedError(): FrameUseError {
    return new FrameUseError('Closed', `FrameTopic(${hex(this.frame.paddr)}) was ended: it takes no more publishes or subscriptions`);
  }
}

/**
 * A subscription to a `FrameTopic`: a `FrameChannel` (receive, `for await`, `readable()` ...)
 * that the topic's publishes fill, plus `missed` and `unsubscribe`. Made by `topic.subscribe()`;
 * it belongs to the worker that made it. Its handle may be opened as a plain `FrameChannel` in
 * other workers (they then share its queue).
 *
 * @example
 * ```ts
 * const topic = FrameTopic.create(sys, { depth: 4 });
 * const sub = topic.subscribe();
 * topic.publish(sys.allocFrame());
 * topic.publish(sys.allocFrame());
 * const queued = sub.unsubscribe(); // what was queued, now the caller's
 * console.log(queued.length, topic.subscribers); // 2 0
 * for (const item of queued) item.drop();
 * topic.close();
 * ```
 */
export class TopicSubscription extends FrameChannel {
  /** @internal Made by `FrameTopic.subscribe`, with the references it holds: its channel's and the topic's. */
  constructor(
    ring: ChannelFrame,
    private readonly topic: TopicFrame,
  ) {
    super(ring);
  }

  /** @internal `console.log(sub)`: `TopicSubscription(0x5000, 1 of 8 queued, 0 missed)`. */
  override [INSPECT](): string {
    return inspectSafely(
      () => `TopicSubscription(${hex(this.handle.paddr)}, ${this.size} of ${this.capacity} queued, ${this.missed} missed${this.ended ? ', ended' : ''})`,
      () => `TopicSubscription(${hex(this.handle.paddr)}, closed)`,
    );
  }

  /** @internal A new channel's frames for a subscription (`FrameTopic.subscribe`). */
  static _ring(sys: FrameContext, depth: number): ChannelFrame {
    return FrameChannel._allocRing(sys, depth);
  }

  /**
   * Frames published that this subscription missed: its queue was full (it fell `depth` behind),
   * ended, or its lock was held past the publisher's short wait (wrapping at 2^32).
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 1 });
   * const sub = topic.subscribe();
   * topic.publish(sys.allocFrame());
   * topic.publish(sys.allocFrame()); // the queue is full: missed
   * console.log(sub.missed); // 1
   * sub.close();
   * topic.close();
   * ```
   */
  get missed(): number {
    this.check();
    return missedCount(this.r, this.base);
  }

  /**
   * Leaves the topic: no publish reaches this subscription from now on; the queue is ended, and
   * what it held is returned (each item the caller's to drop); the subscription is closed.
   * `FrameUseError('Closed')` if it was closed already.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * const sub = topic.subscribe();
   * topic.publish(sys.allocFrame());
   * const [first] = sub.unsubscribe();
   * console.log(first instanceof Frame, topic.subscribers); // true 0
   * first.drop();
   * topic.close();
   * ```
   */
  unsubscribe(): (Frame | Segment)[] {
    this.check();
    const r = this.r;
    const tb = topicAt(r, this.topic.paddr);
    lockTopic(r, tb);
    try {
      removeSubscriber(r, tb, this.handle.paddr);
    } finally {
      unlockTopic(r, tb);
    }
    // No publish reaches the queue now: end it (for other workers that opened it) and empty it.
    endRingNow(r, this.base);
    const queued: (Frame | Segment)[] = [];
    for (let item = this.take(undefined, 'any', Infinity); item; item = this.take(undefined, 'any', Infinity)) queued.push(item);
    this.closeChannel();
    this.topic.drop();
    return queued;
  }

  /**
   * Unsubscribes (as `unsubscribe`) and drops what was queued. Idempotent.
   *
   * @example
   * ```ts
   * const topic = FrameTopic.create(sys, { depth: 4 });
   * const sub = topic.subscribe();
   * topic.publish(sys.allocFrame());
   * sub.close(); // the queued frame is dropped
   * topic.close();
   * console.log(sys.stats().used); // 0
   * ```
   */
  override close(): void {
    if (!this.open) return;
    if (this.sys._closed) return this.closeChannel();
    let error: unknown;
    let failed = false;
    for (const item of this.unsubscribe()) {
      try {
        item.drop();
      } catch (e) {
        if (!failed) error = e;
        failed = true;
      }
    }
    if (failed) throw error;
  }
}

/** `publish`'s check of a frame of another `FrameContext`: it must be of the same region. */
function checkSameRegion(sys: FrameContext, frame: Frame): void {
  const other = frame._sys.handle;
  if (other.memory !== sys.handle.memory || other.offset !== sys.handle.offset) {
    throw new FrameUseError('BadValue', `${String(frame)} belongs to another region`);
  }
}

/**
 * The subscriptions of gone workers in the table at word `b`, taken out (the caller holds the
 * lock): their channels, for `sweepGone`; their subscribers' tokens go to `tokens` if given.
 */
function takeGoneLocked(sys: FrameContext, b: number, tokens?: number[]): Paddr[] {
  const r = sys._region;
  const gone: Paddr[] = [];
  forEachSubscriber(r, b, (channel, token) => {
    if (!subscriberGone(r, token)) return true;
    gone.push(channel);
    tokens?.push(token);
    return false;
  });
  return gone;
}

/**
 * Finishes the sweep of gone subscriptions (taken out of topic `topic`'s table): each queue is
 * ended and emptied (the frames queued dropped), then the two references the gone subscription
 * held (its channel's and the topic's) are dropped for it. The caller holds a reference to the
 * topic, so the topic's frame outlives this.
 */
function sweepGone(sys: FrameContext, topic: Paddr, gone: readonly Paddr[]): void {
  for (const channel of gone) {
    const ch = FrameChannel.open(sys, { paddr: channel });
    try {
      ch.end();
      for (let item = ch.tryReceiveSegment(); item !== null; item = ch.tryReceiveSegment()) item.drop();
    } finally {
      ch.close();
    }
    // The references of a handle of a worker that is gone: restored without a forgotten record.
    Frame._restore(sys, channel, undefined, false).drop();
    Frame._restore(sys, topic, undefined, false).drop();
  }
}

/**
 * Sweeps every topic of the region of the subscriptions of workers that are gone (`reclaimWorker`,
 * after the dead workers' records are released): returns the lock tokens of the subscribers swept.
 * Topics are found by their slots' type; one being dropped meanwhile is skipped.
 */
export function sweepTopics(sys: FrameContext): number[] {
  const r = sys._region;
  const type = lookupTypeId(r, TopicMeta);
  if (type === 0) return []; // no topic was ever made in this region
  const tokens: number[] = [];
  for (let k = 0; k < sys.nframes; k++) {
    const w = slotWord(r, k);
    if (typeOf(r, w) !== type || countOf(r, w) <= 0) continue;
    let topic: Frame;
    try {
      topic = Frame.fromInUse(sys, k * PAGE_SIZE);
    } catch {
      continue; // dropped meanwhile
    }
    try {
      const b = topicAt(r, topic.paddr);
      let gone: Paddr[] = [];
      lockTopic(r, b);
      try {
        gone = takeGoneLocked(sys, b, tokens);
      } finally {
        unlockTopic(r, b);
      }
      sweepGone(sys, topic.paddr, gone);
    } finally {
      topic.drop();
    }
  }
  return tokens;
}
