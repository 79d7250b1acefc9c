/**
 * FrameTopic: broadcast of frames to subscribers, each with its own bounded queue. A model-based
 * test against a plain model (queues, missed counts, the latest), the reference counts, bad input
 * (typed errors, nothing changed), real worker subscribers reading every byte, and the sweep of
 * subscribers that are gone (a worker that exited without closing, reclaimed; a system closed
 * with its subscription open), in plain and checked mode.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FrameChannel,
  FrameSystem,
  FrameTopic,
  FrameUseError,
  GetFrameError,
  MAX_TOPIC_SUBSCRIBERS,
  TopicSubscription,
  Untyped,
  defineMeta,
  type Frame,
} from '../../src/index.js';
import { expectAllFree, expectNoChange, makeSystem } from '../helpers.js';

const SUBSCRIBER = new URL('./subscriber.worker.js', import.meta.url);

/** A frame whose first byte is `v`. */
function frameOf(sys: FrameSystem, v: number): Frame<typeof Untyped> {
  const f = sys.allocFrame();
  f.bytes()[0] = v;
  return f;
}

describe.each([{ checked: false }, { checked: true }])('FrameTopic (checked: $checked)', ({ checked }) => {
  it('every subscriber gets a reference to the same frame, the topic keeps one as the latest; closing lets go of all', () => {
    const sys = makeSystem({ checked });
    const topic = FrameTopic.create(sys, { depth: 4 });
    const subs = [topic.subscribe(), topic.subscribe(), topic.subscribe()];
    expect(topic.subscribers).toBe(3);
    expect(subs.every((s) => s instanceof TopicSubscription && s instanceof FrameChannel)).toBe(true);
    const frame = frameOf(sys, 9);
    const paddr = frame.paddr;
    expect(topic.publish(frame)).toBe(3);
    expect(() => frame.bytes()).toThrow(FrameUseError); // consumed
    const got = subs.map((s) => s.receive(Untyped, 0)!);
    expect(got.map((f) => f.paddr)).toEqual([paddr, paddr, paddr]);
    expect(got[0].referenceCount).toBe(4); // three subscribers' and the topic's
    expect(got.map((f) => f.bytes()[0])).toEqual([9, 9, 9]);
    for (const f of got) f.drop();
    const second = frameOf(sys, 10);
    expect(topic.publish(second)).toBe(3);
    // The first frame was the latest: the second replaced it, and it went back.
    expect(sys.stats().used).toBe(1 + 1 + 3); // the topic, the second frame, the three rings
    expect(topic.published).toBe(2);
    for (const s of subs) s.close(); // each drops its queued reference
    expect(topic.subscribers).toBe(0);
    topic.close();
    expectAllFree(sys);
    sys.close();
  });

  it('a full subscriber misses the frame (counted), never holds the publisher up; the others still get it', () => {
    const sys = makeSystem({ checked });
    const topic = FrameTopic.create(sys, { depth: 2 });
    const slow = topic.subscribe();
    const fast = topic.subscribe();
    for (let i = 0; i < 20; i++) {
      expect(topic.publish(frameOf(sys, i))).toBe(i < 2 ? 2 : 1);
      fast.receive(Untyped, 0)!.drop();
    }
    expect(slow.missed).toBe(18);
    expect(fast.missed).toBe(0);
    const queued = slow.unsubscribe();
    expect(queued.map((f) => (f as Frame<typeof Untyped>).bytes()[0])).toEqual([0, 1]); // the first two, in order
    for (const f of queued) f.drop();
    expect(() => slow.receive()).toThrow(FrameUseError); // closed by unsubscribe
    fast.close();
    topic.close();
    expectAllFree(sys);
    sys.close();
  });

  it('latest() for late joiners: a new reference (typed on request), null before any publish; end() stops publishes and subscriptions, the queues drain, then end', async () => {
    const sys = makeSystem({ checked });
    const Page = defineMeta('test.topic.page', { n: 'u32' });
    const topic = FrameTopic.create(sys, { depth: 4 });
    expect(topic.latest()).toBeNull();
    const sub = topic.subscribe();
    topic.publish(sys.allocFrame(Page, { n: 5 }));
    const last = topic.latest(Page)!;
    expect(last.meta.n).toBe(5);
    expect(last.referenceCount).toBe(3);
    expectNoChange(sys, () => topic.latest(Untyped), FrameUseError, 'WrongType');
    last.drop();
    topic.end();
    expect(topic.ended).toBe(true);
    const late = sys.allocFrame();
    expect(() => topic.publish(late)).toThrow(expect.objectContaining({ code: 'Closed' }));
    expect(late.referenceCount).toBe(1); // still the caller's
    late.drop();
    expect(() => topic.subscribe()).toThrow(expect.objectContaining({ code: 'Closed' }));
    const items: number[] = [];
    for await (const item of sub) {
      items.push((item as Frame<typeof Page>).meta.n);
      item.drop();
    }
    expect(items).toEqual([5]);
    expect(sub.ended).toBe(true);
    const kept = topic.latest(Page)!;
    expect(kept.meta.n).toBe(5); // end() keeps the latest; the last close drops it
    kept.drop();
    sub.close();
    topic.close();
    expectAllFree(sys);
    sys.close();
  });

  it('the last close of a FrameTopic object, in any worker, ends the topic; the topic frame goes once the subscriptions are closed too', () => {
    const sys = makeSystem({ checked });
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const topic = FrameTopic.create(sys, { depth: 4 });
    const there = FrameTopic.open(other, topic.handle);
    const sub = there.subscribe();
    there.close();
    topic.publish(sys.allocFrame());
    expect(topic.ended).toBe(false);
    topic.close(); // the last FrameTopic object
    const frame = sub.receive(Untyped, 0)!; // the queue drains ...
    expect(frame.referenceCount).toBe(1); // ... and the latest was dropped by the last close
    frame.drop();
    expect(sub.receive(Untyped, 1000)).toBeNull(); // ... then ended: null at once
    expect(sub.ended).toBe(true);
    expect(sys.stats().used).toBe(2); // the topic's frame (the subscription holds it) and the ring
    sub.close();
    other.close();
    expectAllFree(sys);
    sys.close();
  });

  it('bad input: a typed error, and nothing changed', () => {
    const sys = makeSystem({ checked });
    for (const options of [null, undefined, 4, {}, { depth: 0 }, { depth: 1.5 }, { depth: '4' }, { depth: -1 }, { depth: 2 ** 21 }]) {
      expectNoChange(sys, () => FrameTopic.create(sys, options as never), FrameUseError, 'BadValue');
    }
    const topic = FrameTopic.create(sys, { depth: 2 });
    const sub = topic.subscribe();
    for (const bad of [null, 42, {}, sys.allocSegment(1)]) {
      expectNoChange(sys, () => topic.publish(bad as never), FrameUseError, 'BadValue');
    }
    const dropped = sys.allocFrame();
    dropped.drop();
    expectNoChange(sys, () => topic.publish(dropped), FrameUseError, 'Dropped');
    expectNoChange(sys, () => FrameTopic.open(sys, null as never), FrameUseError, 'BadValue');
    const plain = sys.allocFrame();
    expectNoChange(sys, () => FrameTopic.open(sys, { paddr: plain.paddr }), FrameUseError, 'WrongType');
    expectNoChange(sys, () => FrameTopic.open(sys, { paddr: 60 * 4096 }), GetFrameError, 'Unused');
    plain.drop();
    const elsewhere = makeSystem({ checked });
    const foreign = elsewhere.allocFrame();
    expectNoChange(sys, () => topic.publish(foreign), FrameUseError, 'BadValue');
    foreign.drop();
    sub.close();
    topic.close();
    expect(() => topic.publish(sys.allocFrame())).toThrow(expect.objectContaining({ code: 'Closed' }));
    expect(() => sub.missed).toThrow(expect.objectContaining({ code: 'Closed' }));
    expect(() => sub.unsubscribe()).toThrow(expect.objectContaining({ code: 'Closed' }));
    topic.close(); // idempotent
    sub.close();
    // The frame allocated for the publish that was refused above is still the caller's; nothing else is held.
    expect(sys.stats().used).toBe(2); // that frame, and the segment of the bad publish
  });

  it(`TooManySubscribers past MAX_TOPIC_SUBSCRIBERS (${MAX_TOPIC_SUBSCRIBERS}), refused whole`, () => {
    const sys = FrameSystem.create({ frames: 1024, checked });
    const topic = FrameTopic.create(sys, { depth: 1 });
    const subs = Array.from({ length: MAX_TOPIC_SUBSCRIBERS }, () => topic.subscribe());
    expectNoChange(sys, () => topic.subscribe(), FrameUseError, 'TooManySubscribers');
    expect(topic.publish(sys.allocFrame())).toBe(MAX_TOPIC_SUBSCRIBERS);
    subs.pop()!.close();
    const again = topic.subscribe();
    again.close();
    for (const s of subs) s.close();
    topic.close();
    expectAllFree(sys);
    sys.close();
  });

  it('a subscriber whose system closed with its subscription open is swept by the next publish: its queue emptied, its references let go', () => {
    const sys = makeSystem({ checked });
    const topic = FrameTopic.create(sys, { depth: 4 });
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const there = FrameTopic.open(other, topic.handle);
    const sub = there.subscribe();
    there.close();
    for (let i = 0; i < 3; i++) topic.publish(sys.allocFrame());
    expect(sub.size).toBe(3);
    other.close(); // its leak report aside, the worker is gone: its subscription too, at the next publish
    expect(topic.subscribers).toBe(1);
    expect(topic.publish(sys.allocFrame())).toBe(0);
    expect(topic.subscribers).toBe(0);
    topic.close();
    expectAllFree(sys);
    sys.close();
  });
});

describe('FrameTopic against a model', () => {
  type Op =
    | { kind: 'subscribe' }
    | { kind: 'unsubscribe'; who: number }
    | { kind: 'publish' }
    | { kind: 'receive'; who: number }
    | { kind: 'latest' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.constant({ kind: 'subscribe' as const }), weight: 2 },
    { arbitrary: fc.nat(7).map((who) => ({ kind: 'unsubscribe' as const, who })), weight: 1 },
    { arbitrary: fc.constant({ kind: 'publish' as const }), weight: 4 },
    { arbitrary: fc.nat(7).map((who) => ({ kind: 'receive' as const, who })), weight: 4 },
    { arbitrary: fc.constant({ kind: 'latest' as const }), weight: 1 },
  );

  it('queues, missed counts, the latest and every reference count agree with the model; all frames come back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), fc.boolean(), (depth, ops, checked) => {
        const sys = FrameSystem.create({ frames: 128, checked });
        const topic = FrameTopic.create(sys, { depth });
        const subs: { sub: TopicSubscription; queue: number[]; missed: number }[] = [];
        let next = 0;
        let latest = -1;
        for (const o of ops) {
          if (o.kind === 'subscribe') {
            subs.push({ sub: topic.subscribe(), queue: [], missed: 0 });
          } else if (o.kind === 'publish') {
            const f = frameOf(sys, next);
            let expected = 0;
            for (const s of subs) {
              if (s.queue.length < depth) {
                s.queue.push(next);
                expected++;
              } else s.missed++;
            }
            expect(topic.publish(f)).toBe(expected);
            latest = next++;
          } else if (o.kind === 'latest') {
            const f = topic.latest(Untyped);
            expect(f === null ? -1 : f.bytes()[0]).toBe(latest === -1 ? -1 : latest & 255);
            f?.drop();
          } else if (subs.length > 0) {
            const s = subs[o.who % subs.length];
            if (o.kind === 'receive') {
              const f = s.sub.tryReceive(Untyped);
              const want = s.queue.shift();
              expect(f === null ? undefined : f.bytes()[0]).toBe(want === undefined ? undefined : want & 255);
              f?.drop();
            } else {
              const got = s.sub.unsubscribe().map((f) => {
                const v = (f as Frame<typeof Untyped>).bytes()[0];
                f.drop();
                return v;
              });
              expect(got).toEqual(s.queue.map((v) => v & 255));
              subs.splice(subs.indexOf(s), 1);
            }
          }
          for (const s of subs) expect([s.sub.size, s.sub.missed]).toEqual([s.queue.length, s.missed]);
          expect(topic.subscribers).toBe(subs.length);
          sys.checkInvariants();
        }
        // Every queued frame is referenced once per queue holding it, plus the topic's latest.
        if (latest !== -1) {
          const f = topic.latest()!;
          const holders = subs.filter((s) => s.queue.includes(latest)).length;
          expect(f.referenceCount).toBe(holders + 2); // the queues', the topic's and this one
          f.drop();
        }
        for (const s of subs) s.sub.close();
        topic.close();
        expectAllFree(sys);
        sys.close();
      }),
      { numRuns: 60 },
    );
  });
});

describe('FrameTopic with workers', () => {
  it('three worker subscribers read every byte of every frame published to them, no copy; what they miss is counted; end() ends their loops; every frame comes back', async () => {
    const sys = FrameSystem.create({ frames: 256 });
    const topic = FrameTopic.create(sys, { depth: 16 });
    const workers = [0, 1, 2].map(() => new Worker(SUBSCRIBER, { workerData: { handle: sys.handle, topic: topic.handle, role: 'read' } }));
    const exited = workers.map((w) => once(w, 'exit'));
    const results = workers.map((w) => new Promise<{ frames: number; missed: number; sum: number; whole: boolean }>((resolve) => w.on('message', (m) => m.frames !== undefined && resolve(m))));
    const errors: unknown[] = [];
    for (const w of workers) w.on('error', (e) => errors.push(e));
    await Promise.all(workers.map((w) => once(w, 'message')));
    expect(topic.subscribers).toBe(3);
    const N = 300;
    let delivered = 0;
    for (let i = 0; i < N; i++) {
      const f = sys.allocFrame();
      f.fill(1 + (i % 255));
      delivered += topic.publish(f); // never waits: a subscriber that fell 16 behind misses it
      if (i % 8 === 7) await new Promise((r) => setTimeout(r, 0));
    }
    topic.end();
    const got = await Promise.all(results);
    await Promise.all(exited);
    expect(errors).toEqual([]);
    for (const g of got) {
      expect(g.whole).toBe(true); // every byte of every frame as published
      expect(g.frames + g.missed).toBe(N); // each frame either received or counted missed
      expect(g.sum % 4096).toBe(0);
    }
    expect(got.reduce((n, g) => n + g.frames, 0)).toBe(delivered);
    expect(delivered).toBeGreaterThan(N); // the subscribers did read as it went
    topic.close();
    expect(sys.workers()).toEqual([1]);
    expectAllFree(sys);
    sys.close();
  });

  it('a worker that exits holding a subscription with frames queued: reclaim takes the subscription out and the frames back', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const topic = FrameTopic.create(sys, { depth: 8 });
    const w = new Worker(SUBSCRIBER, { workerData: { handle: sys.handle, topic: topic.handle, role: 'abandon' } });
    const exited = once(w, 'exit');
    const [hello] = (await once(w, 'message')) as [{ workerId: number }];
    await exited; // it exited without closing anything
    for (let i = 0; i < 5; i++) expect(topic.publish(sys.allocFrame())).toBe(1); // its record is still attached: queued for it
    const used = sys.stats().used;
    const report = sys.reclaimWorker(hello.workerId);
    expect(report.subscriptions).toBe(1);
    expect(topic.subscribers).toBe(0);
    // Back: the 4 frames only its queue held (the 5th is the topic's latest too) and its ring.
    expect(sys.stats().used).toBe(used - 4 - 1);
    topic.close();
    expectAllFree(sys);
    sys.close();
  });
});

