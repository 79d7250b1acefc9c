/**
 * `console.log` of pageframe's objects shows one line each (`Frame(0x3000, count 2, app.page)`),
 * not their fields, the region and the memory behind them: every public class answers
 * `util.inspect` (src/base/inspect.ts), in every state (live, dropped, closed), without throwing.
 * And a value that is not a handle, given where a handle is expected, is called that.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  CachedAllocator,
  FrameAllocOptions,
  FrameChannel,
  FrameSystem,
  FrameSystemError,
  FrameTopic,
  FrameUseError,
  LinkedList,
  Untyped,
  defineMeta,
} from '../../src/index.js';

const Page = defineMeta('test.inspect.page', { owner: 'u32' });
const hex = (n: number): string => `0x${n.toString(16)}`;

describe('util.inspect of the public classes: one line each', () => {
  it('frames, borrows, unique frames and segments: kind, address, count or state, type', () => {
    const sys = FrameSystem.create({ frames: 16 });
    const frame = sys.allocFrame(Page, { owner: 1 });
    const copy = frame.clone();
    expect(inspect(frame)).toBe(`Frame(${hex(frame.paddr)}, count 2, test.inspect.page)`);
    expect(inspect(frame.borrow())).toBe(`FrameRef(${hex(frame.paddr)}, count 2, test.inspect.page)`);
    copy.drop();
    expect(inspect(copy)).toBe(`Frame(${hex(frame.paddr)}, dropped, test.inspect.page)`);
    const unique = new FrameAllocOptions(sys).allocUnique(Page, { owner: 2 });
    expect(inspect(unique)).toBe(`UniqueFrame(${hex(unique.paddr)}, unique, test.inspect.page)`);
    const seg = sys.allocSegment(4);
    expect(inspect(seg)).toBe(`Segment(${hex(seg.startPaddr)}..${hex(seg.endPaddr)}, 4 frames, pageframe.untyped)`);
    expect(inspect(seg.reader())).toBe(`FrameReader(${hex(seg.startPaddr)}, 16384 bytes left)`);
    expect(inspect(seg.writer().skip(16))).toBe(`FrameWriter(${hex(seg.startPaddr)}, 16368 bytes left)`);
    // Inside other values too (arrays, objects), where console.log meets them most.
    expect(inspect({ frames: [frame] })).toBe(`{ frames: [ Frame(${hex(frame.paddr)}, count 1, test.inspect.page) ] }`);
    unique.drop();
    seg.drop();
    sys.close();
    expect(inspect(frame)).toBe(`Frame(${hex(frame.paddr)}, system closed, test.inspect.page)`);
  });

  it('the system, its allocators, metadata types and allocation options', () => {
    const sys = FrameSystem.create({ frames: 16, maxFrames: 64, checked: true });
    expect(inspect(sys)).toBe(`FrameSystem(worker ${sys.workerId}, 16 frames, may grow to 64, checked)`);
    expect(sys.allocator).toBeInstanceOf(CachedAllocator);
    const cached = sys.allocator as CachedAllocator;
    sys.allocFrame().drop();
    expect(inspect(cached)).toBe(`CachedAllocator(worker ${sys.workerId}, 16 frames free, ${cached.cachedFrames(sys.workerId)} in this worker's caches)`);
    expect(cached.buddy).toBeInstanceOf(BuddyAllocator);
    expect(inspect(cached.buddy)).toBe(`BuddyAllocator(${cached.buddy.freeFrames()} frames free)`);
    expect(inspect(Page)).toBe('MetaType(test.inspect.page, 4 bytes, typed)');
    expect(inspect(Untyped)).toBe('MetaType(pageframe.untyped, 0 bytes, untyped)');
    expect(inspect(new FrameAllocOptions(sys))).toBe('FrameAllocOptions(zeroed)');
    expect(inspect(new FrameAllocOptions(sys).zeroed(false))).toBe('FrameAllocOptions(not zeroed)');
    sys.close();
    expect(inspect(sys)).toBe(`FrameSystem(worker ${sys.workerId}, closed)`);
  });

  it('lists, cursors and channels, live and after their end', () => {
    const sys = FrameSystem.create({ frames: 16 });
    const list = LinkedList.create(sys, Untyped);
    list.pushBack(new FrameAllocOptions(sys).allocUnique(Untyped));
    const first = [...list][0].paddr;
    const cursor = list.cursorFrontMut();
    expect(inspect(list)).toBe(`LinkedList(${list.id}, 1 frame, pageframe.untyped)`);
    expect(inspect(cursor)).toBe(`CursorMut(list ${list.id}, at ${hex(first)})`);
    cursor.moveNext();
    expect(inspect(cursor)).toBe(`CursorMut(list ${list.id}, ghost)`);
    cursor.release();
    expect(inspect(cursor)).toBe(`CursorMut(list ${list.id}, released)`);
    list.destroy();
    expect(inspect(list)).toBe(`LinkedList(${list.id}, destroyed)`);

    const ch = FrameChannel.create(sys, 8);
    const at = hex(ch.handle.paddr);
    ch.send(sys.allocFrame());
    expect(inspect(ch)).toBe(`FrameChannel(${at}, 1 of 8 queued)`);
    ch.end();
    expect(inspect(ch)).toBe(`FrameChannel(${at}, 1 of 8 queued, ended)`);
    ch.close();
    expect(inspect(ch)).toBe(`FrameChannel(${at}, closed)`);
    expect(sys.stats().used).toBe(0);
    sys.close();
  });

  it('metadata views and atomic cells: their values now, not the memory behind them', () => {
    const sys = FrameSystem.create({ frames: 16 });
    const Counted = defineMeta('test.inspect.counted', { owner: 'u32', hits: 'atomic-u32', size: 'u64', dirty: 'bool' });
    const frame = sys.allocFrame(Counted, { owner: 3, size: 5n });
    frame.meta.hits.add(2);
    const view = frame.meta;
    expect(inspect(view)).toBe('{ size: 5n, hits: 2, owner: 3, dirty: false }'); // in layout order
    expect(inspect(frame.meta.hits)).toBe('AtomicCell(2)');
    const unique = new FrameAllocOptions(sys).allocUnique(Counted, { owner: 4 });
    expect(inspect(unique.metaMut)).toBe('{ size: 0n, hits: 0, owner: 4, dirty: false }');
    expect(inspect(sys.allocFrame().meta)).toBe('{}');
    const cell = frame.meta.hits;
    frame.drop();
    expect(inspect(view)).toBe(`{ metadata of frame ${hex(frame.paddr)}: dropped }`);
    expect(inspect(cell)).toBe('AtomicCell(dropped)');
    unique.drop();
    sys.close();
  });

  it('no public class prints more than one line', () => {
    const sys = FrameSystem.create({ frames: 16 });
    const frame = sys.allocFrame();
    const values: unknown[] = [sys, frame, frame.borrow(), sys.allocator, Untyped, new FrameAllocOptions(sys)];
    for (const v of values) expect(inspect(v, { depth: 5 })).not.toContain('\n');
    frame.drop();
    sys.close();
  });
});

describe('a value that is not a handle, where one is expected', () => {
  it('attach says what it got instead of a handle', () => {
    const sys = FrameSystem.create({ frames: 16 });
    const frame = sys.allocFrame();
    const cases: [unknown, string][] = [
      [{}, 'an object without memory and offset'],
      [{ memory: sys.handle.memory }, 'an object without offset'],
      [sys, 'a FrameSystem'],
      [frame, 'a Frame'],
      [undefined, 'undefined'],
      ['handle', '"handle"'],
    ];
    for (const [value, what] of cases) {
      let error: unknown;
      try {
        FrameSystem.attach(value as never);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FrameSystemError);
      expect((error as FrameSystemError).code).toBe('BadMemory');
      expect((error as Error).message).toBe(
        `BadMemory: attach needs the handle of a FrameSystem (sys.handle, an object { memory, offset } that postMessage can send), not ${what}`,
      );
    }
    expect(sys.workers()).toEqual([sys.workerId]); // nothing attached
    frame.drop();
    sys.close();
  });

  it('topics and their subscriptions', () => {
    const sys = FrameSystem.create({ frames: 16 });
    const topic = FrameTopic.create(sys, { depth: 2 });
    const sub = topic.subscribe();
    const at = hex(topic.handle.paddr);
    const subAt = hex(sub.handle.paddr);
    for (let i = 0; i < 3; i++) topic.publish(sys.allocFrame());
    expect(inspect(topic)).toBe(`FrameTopic(${at}, 1 subscriber, 3 published, depth 2)`);
    expect(inspect(sub)).toBe(`TopicSubscription(${subAt}, 2 of 2 queued, 1 missed)`);
    topic.end();
    expect(inspect(topic)).toBe(`FrameTopic(${at}, 1 subscriber, 3 published, depth 2, ended)`);
    sub.close();
    expect(inspect(sub)).toBe(`TopicSubscription(${subAt}, closed)`);
    topic.close();
    expect(inspect(topic)).toBe(`FrameTopic(${at}, closed)`);
    expect(() => FrameTopic.open(sys, {} as never)).toThrow(
      new FrameUseError('BadValue', 'FrameTopic.open needs the handle of a topic (topic.handle), not an object without paddr'),
    );
    sys.close();
  });

  it('FrameChannel.open too', () => {
    const sys = FrameSystem.create({ frames: 16 });
    const ch = FrameChannel.create(sys, 2);
    expect(() => FrameChannel.open(sys, {} as never)).toThrow(
      new FrameUseError('BadValue', 'FrameChannel.open needs the handle of a channel (ch.handle), not an object without paddr'),
    );
    expect(() => FrameChannel.open(sys, ch as never)).toThrow(/not a FrameChannel$/);
    ch.close();
    sys.close();
  });
});
