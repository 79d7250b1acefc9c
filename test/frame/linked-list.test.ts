/**
 * Intrusive linked lists of unique frames, as the kernel's `linked_list`: the head in the region's
 * list table, the links in the frames' metadata slots, `inList` set to the list's id while a
 * frame is in it. Kernel tests 6, 7 and 8 ported exactly; opening a list in another view; the
 * errors (each leaves the list and the region as they were); cursors and their lock; destroy;
 * the region invariant's list checks; a fast-check model of a list against a plain array; two
 * real worker_threads pushing and popping concurrently; and recovery of a list whose lock a dead
 * worker held in the middle of a change.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CursorMut,
  Frame,
  FrameAllocOptions,
  FrameSystem,
  FrameUseError,
  GetFrameError,
  InvariantError,
  LinkedList,
  MAX_LISTS,
  PAGE_SIZE,
  REF_COUNT_UNIQUE,
  UniqueFrame,
  defineMeta,
  type Paddr,
} from '../../src/index.js';
import { H_LISTS, LIST_WORDS } from '../../src/region/geometry.js';
import { LOP_LINK, LOP_UNLINK, W_LOP } from '../../src/region/journal.js';
import { L_BACK, L_FRONT, L_GEN, L_LOCK, L_MOD, L_SIZE } from '../../src/region/lists.js';
import { SLOT_WORDS, S_LIST, S_NEXT, S_PREV } from '../../src/region/meta.js';
import { lock } from '../../src/shm/lock.js';
import { expectAllFree, expectNoChange, expectThrown, makeSystem, MockMeta, MockUMeta, rawCount } from '../helpers.js';

/** Expects `fn` to throw a FrameUseError (with `code`), returns it. */
const expectUseError = (fn: () => unknown, code?: string): FrameUseError => expectThrown(fn, FrameUseError, code);

type U = typeof MockUMeta;

/** A unique frame of the kernel tests' `MockUFrameMeta { value }`. */
function alloc(sys: FrameSystem, value: number): UniqueFrame<U> {
  return new FrameAllocOptions(sys).allocUnique(MockUMeta, { value });
}

/** The values of a list's frames, front to back (by iteration). */
function values(list: LinkedList<U>): number[] {
  return [...list].map((r) => r.meta.value);
}

/** Word index of the slot of the frame at `paddr`. */
function slotOf(sys: FrameSystem, paddr: Paddr): number {
  return sys._region.metaWord + (paddr / PAGE_SIZE) * SLOT_WORDS;
}

/** Word index of a list's entry in the list table. */
function entryOf(list: { id: number }): number {
  return H_LISTS + (list.id - 1) * LIST_WORDS;
}

describe('kernel tests (ostd/src/mm/frame/test.rs, mod linked_list)', () => {
  it('linked_list_push_pop (test 6)', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    expect(list.isEmpty).toBe(true);
    list.pushFront(alloc(sys, 1));
    sys.checkInvariants();
    list.pushFront(alloc(sys, 2));
    sys.checkInvariants();
    list.pushBack(alloc(sys, 3));
    sys.checkInvariants();
    expect(list.size).toBe(3);
    expect(list.isEmpty).toBe(false);

    const cursor = list.cursorFrontMut();
    expect(cursor.current!.value).toBe(2);
    cursor.moveNext();
    expect(cursor.current!.value).toBe(1);
    cursor.moveNext();
    expect(cursor.current!.value).toBe(3);
    cursor.moveNext();
    expect(cursor.current).toBeNull();
    expect(cursor.asList().size).toBe(3);
    expect(cursor.asList()).toBe(list);
    cursor.release();

    const a = list.popFront()!;
    expect(a.meta.value).toBe(2);
    expect(list.size).toBe(2);
    sys.checkInvariants();
    const b = list.popBack()!;
    expect(b.meta.value).toBe(3);
    expect(list.size).toBe(1);
    sys.checkInvariants();
    const c = list.popFront()!;
    expect(c.meta.value).toBe(1);
    expect(list.size).toBe(0);
    expect(list.isEmpty).toBe(true);
    sys.checkInvariants();
    expect(list.popFront()).toBeNull();
    expect(list.popBack()).toBeNull();
    for (const u of [a, b, c]) u.drop();
    list.destroy();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('linked_list_cursor_at (test 7)', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    const paddrs: Paddr[] = [];
    for (const v of [1, 2, 3]) {
      const u = alloc(sys, v);
      paddrs.push(u.paddr);
      list.pushFront(u);
      sys.checkInvariants();
    }
    const outside = alloc(sys, 4);
    expect(list.contains(outside.paddr)).toBe(false);
    expect(list.cursorMutAt(outside.paddr)).toBeNull();
    for (const [k, p] of paddrs.entries()) {
      expect(list.contains(p)).toBe(true);
      const cursor = list.cursorMutAt(p)!;
      expect(cursor).not.toBeNull();
      expect(cursor.current!.value).toBe(k + 1);
      expect(cursor.currentPaddr).toBe(p);
      cursor.release();
    }
    outside.drop();
    list.destroy();
    expect(sys.stats().free).toBe(64);
  });

  it('linked_list_cursor_ops (test 8)', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    list.pushFront(alloc(sys, 1));
    list.pushFront(alloc(sys, 2));
    expect(list.size).toBe(2);

    const cursor = list.cursorFrontMut();
    expect(cursor.current!.value).toBe(2);
    cursor.moveNext();
    expect(cursor.current!.value).toBe(1);
    cursor.insertBefore(alloc(sys, 3));
    sys.checkInvariants();
    expect(cursor.current!.value).toBe(1);
    cursor.insertBefore(alloc(sys, 4));
    sys.checkInvariants();
    expect(cursor.current!.value).toBe(1);
    cursor.moveNext();
    expect(cursor.current).toBeNull();
    cursor.insertBefore(alloc(sys, 5)); // at the ghost: appended at the back
    sys.checkInvariants();
    expect(cursor.current).toBeNull();
    expect(cursor.asList().size).toBe(5);
    cursor.release();

    const c = list.cursorFrontMut();
    for (const v of [2, 3, 4, 1, 5]) {
      expect(c.current!.value).toBe(v);
      c.moveNext();
    }
    expect(c.current).toBeNull();
    c.movePrev();
    expect(c.current!.value).toBe(5);
    c.movePrev();
    expect(c.current!.value).toBe(1);
    const one = c.takeCurrent()!;
    sys.checkInvariants();
    expect(one.meta.value).toBe(1);
    expect(c.current!.value).toBe(5);
    c.moveNext();
    expect(c.current).toBeNull();
    for (const v of [5, 4, 3, 2]) {
      c.movePrev();
      expect(c.current!.value).toBe(v);
    }
    const two = c.takeCurrent()!;
    sys.checkInvariants();
    expect(two.meta.value).toBe(2);
    expect(c.current!.value).toBe(3);
    c.moveNext();
    expect(c.current!.value).toBe(4);
    c.moveNext();
    expect(c.current!.value).toBe(5);
    const five = c.takeCurrent()!;
    sys.checkInvariants();
    expect(five.meta.value).toBe(5);
    expect(c.current).toBeNull();
    expect(c.takeCurrent()).toBeNull(); // nothing at the ghost
    c.release();
    expect(list.size).toBe(2);
    expect(values(list)).toEqual([3, 4]);
    for (const u of [one, two, five]) u.drop();
    list.destroy();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });
});

describe('LinkedList', () => {
  it('inList is the list id while a frame is in it; popped frames are ordinary unique frames', () => {
    const sys = makeSystem();
    const a = LinkedList.create(sys, MockUMeta);
    const b = LinkedList.create(sys, MockUMeta);
    expect(a.id).not.toBe(b.id);
    const u = alloc(sys, 7);
    const p = u.paddr;
    const w = slotOf(sys, p);
    expect(sys._region.mem.i32[w + S_LIST]).toBe(0);
    a.pushBack(u);
    expectUseError(() => u.meta, 'Dropped'); // the list owns it: the handle is consumed
    expect(sys._region.mem.i32[w + S_LIST]).toBe(a.id);
    expect(sys.stats().unique).toBe(1);
    const back = a.popFront()!;
    expect(sys._region.mem.i32[w + S_LIST]).toBe(0);
    expect(back.paddr).toBe(p);
    expect(back.referenceCount).toBe(REF_COUNT_UNIQUE);
    b.pushFront(back);
    expect(sys._region.mem.i32[w + S_LIST]).toBe(b.id);
    expect(a.contains(p)).toBe(false);
    expect(b.contains(p)).toBe(true);
    const f = b.popBack()!.intoFrame();
    const g = Frame.fromInUse(sys, p); // shared again: from_in_use works
    expect(g.referenceCount).toBe(2);
    g.drop();
    f.drop();
    a.destroy();
    b.destroy();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('iteration yields borrowed references front to back; a popped frame’s reference is stale', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    expect([...list]).toEqual([]);
    const paddrs: Paddr[] = [];
    for (const v of [1, 2, 3]) {
      const u = alloc(sys, v);
      paddrs.push(u.paddr);
      list.pushBack(u);
    }
    const refs = [...list];
    expect(refs.map((r) => r.paddr)).toEqual(paddrs);
    expect(refs.map((r) => r.meta.value)).toEqual([1, 2, 3]);
    expect(refs.map((r) => r.referenceCount)).toEqual([REF_COUNT_UNIQUE, REF_COUNT_UNIQUE, REF_COUNT_UNIQUE]);
    // The borrowed references read the frames' contents; none can become a shared handle (the
    // list owns its frames uniquely).
    const u = alloc(sys, 4);
    u.writer().writeU32(0xfeedf00d);
    list.pushBack(u);
    const fourth = [...list][3];
    expect(fourth.reader().readU32()).toBe(0xfeedf00d);
    expect(fourth.bytes()[0]).toBe(0x0d);
    for (const r of [...list]) expectNoChange(sys, () => r.clone(), FrameUseError);
    expectUseError(() => fourth.clone(), 'InList'); // the list lent it; it never shares it
    const popped = list.popBack()!;
    expect(popped.reader().readU32()).toBe(0xfeedf00d);
    expectUseError(() => fourth.reader(), 'Dropped');
    popped.drop();
    const first = list.popFront()!;
    expectUseError(() => refs[0].meta, 'Dropped');
    expect(refs[1].meta.value).toBe(2);
    first.drop();
    list.destroy();
    expect(sys.stats().free).toBe(64);
  });

  it('metadata written through cursor.current persists in the frame', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    for (const v of [1, 2, 3]) list.pushBack(alloc(sys, v));
    const c = list.cursorFrontMut();
    c.moveNext();
    c.current!.value = 99;
    expect(c.current!.value).toBe(99);
    c.moveNext();
    c.current!.value = 0xffffffff;
    expectUseError(() => {
      c.current!.value = -1;
    }, 'BadValue');
    c.release();
    expect(values(list)).toEqual([1, 99, 0xffffffff]);
    const p = [...list][1].paddr;
    const at = list.cursorMutAt(p)!;
    expect(at.current!.value).toBe(99);
    at.release();
    list.popFront()!.drop();
    const u = list.popFront()!;
    expect(u.meta.value).toBe(99);
    u.drop();
    list.destroy();
    sys.checkInvariants();
  });

  it('opens by handle in another attached view: both see and change the same list', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    list.pushBack(alloc(sys, 1));
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const handle = structuredClone(list.handle); // what postMessage carries
    const there = LinkedList.open(other, handle, MockUMeta);
    expect(there.id).toBe(list.id);
    expect(there.size).toBe(1);
    expect(values(there)).toEqual([1]);
    there.pushBack(alloc(other, 2)); // a frame of the other view
    list.pushFront(alloc(sys, 0));
    expect(values(list)).toEqual([0, 1, 2]);
    expect(values(there)).toEqual([0, 1, 2]);
    const p = [...list][2].paddr;
    expect(there.contains(p)).toBe(true);
    const u = there.popBack()!;
    expect(u._sys).toBe(other);
    expect(u.meta.value).toBe(2);
    u.drop(); // freed from the other view
    // Without a type, the list's registered type is used.
    const untypedOpen = LinkedList.open(other, list.handle);
    expect(untypedOpen.metaType.name).toBe(MockUMeta.name);
    expect(untypedOpen.size).toBe(2);
    sys.checkInvariants();
    list.destroy();
    expectUseError(() => there.size, 'Dropped');
    other.close();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('refuses the handle of a destroyed list (Dropped), also once its entry is reused', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    const handle = list.handle;
    const p = alloc(sys, 1);
    const paddr = p.paddr;
    list.pushBack(p);
    list.destroy();
    expectNoChange(sys, () => LinkedList.open(sys, handle), FrameUseError, 'Dropped');
    for (const use of [
      () => list.size,
      () => list.isEmpty,
      () => list.contains(paddr),
      () => list.popFront(),
      () => list.popBack(),
      () => list.cursorFrontMut(),
      () => list.cursorBackMut(),
      () => list.cursorMutAt(paddr),
      () => [...list],
      () => list.destroy(),
    ]) {
      expectNoChange(sys, use, FrameUseError, 'Dropped');
    }
    const u = alloc(sys, 2);
    expectNoChange(sys, () => list.pushBack(u), FrameUseError, 'Dropped');
    expect(u.meta.value).toBe(2); // not consumed
    const reused = LinkedList.create(sys, MockUMeta);
    expect(reused.id).toBe(list.id); // the entry was freed
    expect(reused.handle.gen).not.toBe(handle.gen);
    expectNoChange(sys, () => LinkedList.open(sys, handle), FrameUseError, 'Dropped');
    expectNoChange(sys, () => list.pushBack(u), FrameUseError, 'Dropped');
    reused.pushBack(u);
    expect(reused.size).toBe(1);
    reused.destroy();
    expect(sys.stats().free).toBe(64);
  });

  it('open refuses a wrong metadata type (WrongType) and a malformed handle (BadValue)', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    sys.allocFrame(MockMeta).drop(); // registered, but not the list's type
    const Unregistered = defineMeta('test.list.neverUsed', { x: 'u16' });
    expectNoChange(sys, () => LinkedList.open(sys, list.handle, MockMeta), FrameUseError, 'WrongType');
    expectNoChange(sys, () => LinkedList.open(sys, list.handle, Unregistered), FrameUseError, 'WrongType');
    for (const bad of [null, {}, { id: 0, gen: 1 }, { id: MAX_LISTS + 1, gen: 1 }, { id: 1.5, gen: 1 }]) {
      expectNoChange(sys, () => LinkedList.open(sys, bad as unknown as LinkedList['handle']), FrameUseError, 'BadValue');
    }
    list.destroy();
  });

  it('refuses a frame of another metadata type (WrongType): the frame stays the caller’s', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    list.pushBack(alloc(sys, 1));
    const typed = new FrameAllocOptions(sys).allocUnique(MockMeta, { value: 5 });
    // @ts-expect-error the list holds MockUMeta frames
    expectNoChange(sys, () => list.pushBack(typed), FrameUseError, 'WrongType');
    const anyList = LinkedList.open(sys, list.handle); // LinkedList<AnyMeta>: checked at run time
    expectNoChange(sys, () => anyList.pushFront(typed), FrameUseError, 'WrongType');
    const c = list.cursorFrontMut();
    expectNoChange(sys, () => c.insertBefore(typed as unknown as UniqueFrame<U>), FrameUseError, 'WrongType');
    c.release();
    expect(typed.meta.value).toBe(5);
    expect(values(list)).toEqual([1]);
    typed.drop();
    list.destroy();
    expect(sys.stats().free).toBe(64);
  });

  it('a shared Frame is not a UniqueFrame (BadValue), through the list or a cursor', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    const shared = sys.allocFrame(MockUMeta, { value: 1 });
    expectNoChange(sys, () => list.pushBack(shared as unknown as UniqueFrame<U>), FrameUseError, 'BadValue');
    const c = list.cursorFrontMut();
    expectNoChange(sys, () => c.insertBefore(shared as unknown as UniqueFrame<U>), FrameUseError, 'BadValue');
    expectNoChange(sys, () => c.insertBefore({} as unknown as UniqueFrame<U>), FrameUseError, 'BadValue');
    expect(c.current).toBeNull(); // a refused insert changed nothing: the cursor is still good
    c.release();
    shared.drop();
    list.destroy();
    expect(sys.stats().free).toBe(64);
  });

  it('a frame already in a list cannot be pushed into another, nor again (InList)', () => {
    const sys = makeSystem(); // unchecked: a second fromRaw of one forgotten handle is not caught
    const a = LinkedList.create(sys, MockUMeta);
    const b = LinkedList.create(sys, MockUMeta);
    a.pushBack(alloc(sys, 1));
    // Take it out, forget it, and restore it twice: two handles of one frame.
    const p = a.popFront()!.intoRaw();
    const one = UniqueFrame.fromRaw(sys, p, MockUMeta);
    const twin = UniqueFrame.fromRaw(sys, p, MockUMeta);
    b.pushBack(one); // put it back, in another list
    expectNoChange(sys, () => a.pushBack(twin), FrameUseError, 'InList');
    expectNoChange(sys, () => b.pushFront(twin), FrameUseError, 'InList');
    const c = a.cursorFrontMut();
    expectNoChange(sys, () => c.insertBefore(twin), FrameUseError, 'InList');
    c.release();
    // And a listed frame cannot be restored from its address.
    expectNoChange(sys, () => UniqueFrame.fromRaw(sys, p, MockUMeta), FrameUseError, 'InList');
    expect(values(b)).toEqual([1]);
    expect(a.size).toBe(0);
    b.destroy();
    a.destroy();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('a listed frame is unique: fromInUse reports Unique, fromUnused Unique', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    const u = alloc(sys, 1);
    const p = u.paddr;
    list.pushBack(u);
    expectNoChange(sys, () => Frame.fromInUse(sys, p), GetFrameError, 'Unique');
    expectNoChange(sys, () => Frame.fromUnused(sys, p, MockUMeta), GetFrameError, 'Unique');
    expectNoChange(sys, () => UniqueFrame.fromUnused(sys, p, MockUMeta), GetFrameError, 'Unique');
    expect(sys.stats().unique).toBe(1);
    list.destroy();
  });

  it('refuses a dropped or consumed handle (Dropped), and a frame of another region (BadValue)', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    const dropped = alloc(sys, 1);
    dropped.drop();
    expectNoChange(sys, () => list.pushBack(dropped), FrameUseError, 'Dropped');
    const consumed = alloc(sys, 2);
    const f = consumed.intoFrame();
    expectNoChange(sys, () => list.pushBack(consumed), FrameUseError, 'Dropped');
    f.drop();
    const moved = alloc(sys, 3);
    list.pushBack(moved);
    expectNoChange(sys, () => list.pushFront(moved), FrameUseError, 'Dropped');
    const elsewhere = makeSystem();
    const foreign = alloc(elsewhere, 4);
    expectNoChange(sys, () => list.pushBack(foreign), FrameUseError, 'BadValue');
    expect(foreign.meta.value).toBe(4);
    foreign.drop();
    expect(values(list)).toEqual([3]);
    list.destroy();
    expect(sys.stats().free).toBe(64);
  });

  it('only unique frames enter a list: a shared Frame passed from untyped code is refused', () => {
    // TypeScript rejects this call; plain JavaScript can make it. The list must not take a
    // shared frame (others hold references to it), in checked mode or not.
    for (const checked of [false, true]) {
      const sys = makeSystem({ checked });
      const list = LinkedList.create(sys, MockUMeta);
      const shared = sys.allocFrame(MockUMeta, { value: 1 });
      const other = shared.clone();
      expectNoChange(sys, () => list.pushBack(shared as unknown as UniqueFrame<U>), FrameUseError);
      expect(list.size).toBe(0);
      expect(shared.referenceCount).toBe(2);
      const single = sys.allocFrame(MockUMeta, { value: 2 }); // count 1, still not a UniqueFrame
      expectNoChange(sys, () => list.pushBack(single as unknown as UniqueFrame<U>), FrameUseError);
      for (const h of [shared, other, single]) h.drop();
      list.destroy();
      expect(sys.stats().free).toBe(64);
    }
  });

  it('contains is false (and cursorMutAt null) for bad, unaligned, out-of-range and other addresses', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    const otherList = LinkedList.create(sys, MockUMeta);
    const u = alloc(sys, 1);
    const p = u.paddr;
    list.pushBack(u);
    const q = alloc(sys, 2);
    const inOther = q.paddr;
    otherList.pushBack(q);
    const loose = alloc(sys, 3);
    const bad = [p + 1, p + PAGE_SIZE - 1, p - 1, -PAGE_SIZE, sys.maxPaddr, sys.maxPaddr + PAGE_SIZE, Number.NaN, 0.5, Number.POSITIVE_INFINITY, 2 ** 32];
    for (const a of [...bad, inOther, loose.paddr]) {
      expect(list.contains(a), `contains(${a})`).toBe(false);
      expect(list.cursorMutAt(a), `cursorMutAt(${a})`).toBeNull();
    }
    expect(list.contains(p)).toBe(true);
    // cursorMutAt returned null without keeping the lock: a cursor can be had.
    list.cursorFrontMut().release();
    loose.drop();
    list.destroy();
    otherList.destroy();
    expect(sys.stats().free).toBe(64);
  });

  it('any number of cursors at once, none holding the lock; a released cursor is dead (Dropped), release idempotent', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    list.pushBack(alloc(sys, 1));
    const p = [...list][0].paddr;
    const c = list.cursorFrontMut();
    const d = list.cursorBackMut();
    const at = list.cursorMutAt(p)!;
    const again = LinkedList.open(sys, list.handle, MockUMeta).cursorBackMut();
    expect(sys._region.mem.i32[entryOf(list) + L_LOCK]).toBe(0); // no cursor holds the lock
    for (const cursor of [c, d, at, again]) expect(cursor.current!.value).toBe(1);
    c.release();
    c.release(); // idempotent
    for (const use of [() => c.current, () => c.moveNext(), () => c.movePrev(), () => c.takeCurrent(), () => c.asList(), () => c.currentPaddr]) {
      expectNoChange(sys, use, FrameUseError, 'Dropped');
    }
    const u = alloc(sys, 2);
    expectNoChange(sys, () => c.insertBefore(u), FrameUseError, 'Dropped');
    expect(u.meta.value).toBe(2);
    u.drop();
    {
      using e = list.cursorBackMut();
      expect(e.current!.value).toBe(1);
    }
    for (const cursor of [d, at, again]) expect(cursor.currentPaddr).toBe(p); // the others are untouched
    list.destroy(); // with cursors left unreleased
    for (const cursor of [d, at, again]) {
      expectUseError(() => cursor.current, 'Dropped');
      cursor.release();
    }
    expect(sys.stats().free).toBe(64);
  });

  it('destroy drops every frame (onDrop runs, front to back) and frees the head', () => {
    const dropped: { value: number; first: number }[] = [];
    const Dropping = defineMeta(
      'test.list.dropping',
      { value: 'u32' },
      { untyped: true, onDrop: (meta, frame) => dropped.push({ value: meta.value, first: frame.bytes()[0] }) },
    );
    const sys = makeSystem();
    const list = LinkedList.create(sys, Dropping);
    const id = list.id;
    const handle = list.handle;
    for (const v of [1, 2, 3]) {
      const u = new FrameAllocOptions(sys).allocUnique(Dropping, { value: v });
      u.fill(v * 10);
      list.pushBack(u);
    }
    list.destroy();
    expect(dropped).toEqual([
      { value: 1, first: 10 },
      { value: 2, first: 20 },
      { value: 3, first: 30 },
    ]);
    expect(sys.stats().free).toBe(64);
    expect(sys._region.mem.i32[entryOf(list) + L_GEN] & 1).toBe(0); // the entry is free
    expectUseError(() => LinkedList.open(sys, handle), 'Dropped');
    sys.checkInvariants();
    // `using` destroys too; a list destroyed inside the block is left alone at its end.
    dropped.length = 0;
    {
      using scoped = LinkedList.create(sys, Dropping);
      expect(scoped.id).toBe(id);
      scoped.pushBack(new FrameAllocOptions(sys).allocUnique(Dropping, { value: 7 }));
    }
    expect(dropped.map((d) => d.value)).toEqual([7]);
    {
      using early = LinkedList.create(sys, Dropping);
      early.destroy();
    }
    expect(sys.stats().free).toBe(64);
    // `using` on a list opened from its handle (as a worker does) leaves the list alone: it is
    // its creator's to destroy.
    const shared = LinkedList.create(sys, Dropping);
    shared.pushBack(new FrameAllocOptions(sys).allocUnique(Dropping, { value: 8 }));
    {
      using opened = LinkedList.open(sys, shared.handle, Dropping);
      expect(opened.size).toBe(1);
    }
    expect(shared.size).toBe(1);
    expect(LinkedList.open(sys, shared.handle).size).toBe(1);
    shared.destroy();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('destroy frees every frame and the head even if an onDrop throws; the first error is rethrown', () => {
    const seen: number[] = [];
    const Throwing = defineMeta(
      'test.list.throwing',
      { value: 'u32' },
      {
        onDrop: (meta) => {
          seen.push(meta.value);
          if (meta.value % 2 === 0) throw new Error(`onDrop ${meta.value}`);
        },
      },
    );
    const sys = makeSystem();
    const list = LinkedList.create(sys, Throwing);
    for (const v of [1, 2, 3, 4]) list.pushBack(new FrameAllocOptions(sys).allocUnique(Throwing, { value: v }));
    expect(() => list.destroy()).toThrow('onDrop 2');
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(sys.stats().free).toBe(64);
    expectUseError(() => list.size, 'Dropped');
    sys.checkInvariants();
  });

  it('TooManyLists past MAX_LISTS, changing nothing; a destroyed list makes room', () => {
    const sys = makeSystem();
    const lists = Array.from({ length: MAX_LISTS }, () => LinkedList.create(sys, MockUMeta));
    expect(new Set(lists.map((l) => l.id)).size).toBe(MAX_LISTS);
    const Fresh = defineMeta('test.list.fresh', { n: 'u8' }); // not registered yet: stays so
    expectNoChange(sys, () => LinkedList.create(sys, Fresh), FrameUseError, 'TooManyLists');
    expectNoChange(sys, () => LinkedList.create(sys, MockUMeta), FrameUseError, 'TooManyLists');
    const freed = lists[100];
    freed.destroy();
    const next = LinkedList.create(sys, Fresh);
    expect(next.id).toBe(freed.id);
    next.destroy();
    for (const l of lists) if (l !== freed) l.destroy();
    sys.checkInvariants();
  });

  it('checkInvariants detects a broken list, and passes again once it is restored', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    for (const v of [1, 2, 3]) list.pushBack(alloc(sys, v));
    const loose = alloc(sys, 9);
    sys.checkInvariants();
    const i32 = sys._region.mem.i32;
    const e = entryOf(list);
    const [w1, w2, w3] = [...list].map((r) => slotOf(sys, r.paddr));
    const frameNo = (w: number): number => (w - sys._region.metaWord) / SLOT_WORDS + 1;
    const corruptions: [string, number, number, RegExp][] = [
      ['prev link', w2 + S_PREV, frameNo(w3), /prev link/],
      ['size', e + L_SIZE, 4, /size says/],
      ['back', e + L_BACK, frameNo(w2), /back is not/],
      ['in_list tag', w2 + S_LIST, list.id + 1, /in_list says/],
      ['cycle', w3 + S_NEXT, frameNo(w1), /linked list 1/],
      ['next out of the region', w2 + S_NEXT, sys.nframes + 5, /broken links/],
      ['front', e + L_FRONT, frameNo(w2), /prev link/],
      ['a loose frame tagged', slotOf(sys, loose.paddr) + S_LIST, list.id, /name a list/],
      ['a listed frame shared', w1, 1, /in a list/],
    ];
    for (const [what, word, value, message] of corruptions) {
      const saved = i32[word];
      i32[word] = value;
      expect(() => sys.checkInvariants(), what).toThrow(InvariantError);
      expect(() => sys.checkInvariants(), what).toThrow(message);
      i32[word] = saved;
      sys.checkInvariants();
    }
    expect(values(list)).toEqual([1, 2, 3]);
    loose.drop();
    list.destroy();
    expect(sys.stats().free).toBe(64);
  });
});

// --- Fail-fast cursors (issue #14 items 1 and 2) ----------------------------------------------

/** What a failed call must leave as it was, besides the region (`expectNoChange`): the stats. */
function expectStale(sys: FrameSystem, use: () => unknown): void {
  const stats = sys.stats();
  expectNoChange(sys, use, FrameUseError, 'Stale');
  expect(sys.stats()).toEqual(stats);
}

describe.each([{ checked: false }, { checked: true }])('fail-fast cursors (checked: $checked)', ({ checked }) => {
  it('issue #14 item 1: popFront in the cursor’s worker takes its frame; takeCurrent is Stale, not a second owner, and so is every later use', () => {
    const sys = makeSystem({ checked });
    const list = LinkedList.create(sys, MockUMeta);
    for (const v of [1, 2, 3]) list.pushBack(alloc(sys, v));
    const cursor = list.cursorFrontMut(); // at A (value 1)
    const a = list.popFront()!; // the same worker takes A
    expect(a.meta.value).toBe(1);
    expectStale(sys, () => cursor.takeCurrent()); // was: a second UniqueFrame of A
    expect(list.size).toBe(2);
    expect(values(list)).toEqual([2, 3]);
    const loose = alloc(sys, 9);
    for (const use of [
      () => cursor.takeCurrent(),
      () => cursor.moveNext(),
      () => cursor.movePrev(),
      () => cursor.insertBefore(loose),
      () => cursor.current,
      () => cursor.currentPaddr,
      () => cursor.asList(),
    ]) {
      expectStale(sys, use);
    }
    expect(loose.meta.value).toBe(9); // not consumed
    expect(a.referenceCount).toBe(REF_COUNT_UNIQUE);
    expect(values(list)).toEqual([2, 3]);
    cursor.release();
    cursor.release(); // idempotent, also on a stale cursor
    expectUseError(() => cursor.takeCurrent(), 'Dropped');
    a.drop();
    loose.drop();
    list.destroy();
    expectAllFree(sys);
  });

  it('a change from another worker (another attached view) makes the cursor stale, and back', () => {
    const sys = makeSystem({ checked });
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const list = LinkedList.create(sys, MockUMeta);
    for (const v of [1, 2]) list.pushBack(alloc(sys, v));
    const there = LinkedList.open(other, list.handle, MockUMeta);
    const mine = list.cursorFrontMut();
    const theirs = there.cursorBackMut();
    there.pushBack(alloc(other, 3)); // the other worker changes the list
    expectStale(sys, () => mine.moveNext());
    expectStale(sys, () => theirs.moveNext()); // a list method's change, even in the cursor's worker
    const fresh = there.cursorBackMut();
    expect(fresh.current!.value).toBe(3);
    list.popFront()!.drop(); // this worker changes it
    expectStale(sys, () => fresh.current);
    expectUseError(() => mine.current, 'Stale'); // stays stale
    // Reading the list changes nothing: size, contains, iteration, cursors made and released.
    const reader = list.cursorFrontMut();
    void [there.size, there.contains(0), [...there], there.cursorBackMut(), list.isEmpty];
    there.cursorFrontMut().release();
    expect(reader.current!.value).toBe(2);
    for (const c of [mine, theirs, fresh, reader]) c.release();
    other.close();
    list.destroy();
    expectAllFree(sys);
  });

  it('another cursor’s change makes a cursor stale; its own takes and inserts do not', () => {
    const sys = makeSystem({ checked });
    const list = LinkedList.create(sys, MockUMeta);
    for (const v of [1, 2, 3, 4]) list.pushBack(alloc(sys, v));
    const c = list.cursorFrontMut();
    const d = list.cursorFrontMut();
    // A sequence of this cursor's own edits keeps it fresh (and its view of the current frame).
    c.moveNext(); // at 2
    const view = c.current!;
    c.insertBefore(alloc(sys, 10)); // [1, 10, 2, 3, 4], still at 2
    expect(view.value).toBe(2);
    view.value = 20;
    const two = c.takeCurrent()!; // at 3
    expect(two.meta.value).toBe(20);
    expectUseError(() => view.value, 'Dropped'); // its frame left the list
    c.movePrev(); // at 10
    c.insertBefore(alloc(sys, 5)); // [1, 5, 10, 3, 4]
    c.movePrev();
    c.movePrev();
    expect(c.current!.value).toBe(1);
    const one = c.takeCurrent()!;
    expect(c.current!.value).toBe(5);
    expect(values(list)).toEqual([5, 10, 3, 4]);
    sys.checkInvariants();
    // Every one of those edits made the other cursor stale.
    expectStale(sys, () => d.current);
    // And a move, a read or a refused insert by c changed nothing: a cursor made after c's last
    // edit stays fresh through them.
    const e = list.cursorBackMut();
    c.moveNext();
    c.movePrev();
    void c.current;
    const typed = new FrameAllocOptions(sys).allocUnique(MockMeta, { value: 1 });
    expectNoChange(sys, () => c.insertBefore(typed as unknown as UniqueFrame<U>), FrameUseError, 'WrongType');
    expect(e.current!.value).toBe(4);
    const five = c.takeCurrent()!; // and c is still fresh
    expect(five.meta.value).toBe(5);
    expectStale(sys, () => e.takeCurrent());
    expect(values(list)).toEqual([10, 3, 4]);
    for (const u of [one, two, five, typed]) u.drop();
    for (const x of [c, d, e]) x.release();
    list.destroy();
    expectAllFree(sys);
  });

  it('a view from current stops working once its cursor is stale or released (Stale, Dropped)', () => {
    const sys = makeSystem({ checked });
    const list = LinkedList.create(sys, MockUMeta);
    for (const v of [1, 2]) list.pushBack(alloc(sys, v));
    const c = list.cursorBackMut();
    const view = c.current!;
    expect(view.value).toBe(2);
    list.pushFront(alloc(sys, 0)); // not the cursor's change
    expectUseError(() => view.value, 'Stale');
    expectUseError(() => {
      view.value = 5;
    }, 'Stale');
    c.release();
    expectUseError(() => view.value, 'Dropped'); // released wins over stale
    const d = list.cursorFrontMut();
    const first = d.current!;
    d.release();
    expectUseError(() => first.value, 'Dropped');
    expect(values(list)).toEqual([0, 1, 2]);
    list.destroy();
    expectAllFree(sys);
  });

  it('cursors made in a loop and never released (as the kernel’s tests make them) all work, and block nothing', () => {
    const sys = makeSystem({ checked });
    const list = LinkedList.create(sys, MockUMeta);
    for (const v of [1, 2, 3]) list.pushBack(alloc(sys, v));
    const p = [...list][1].paddr;
    for (let i = 0; i < 2000; i++) {
      const c = i % 3 === 0 ? list.cursorFrontMut() : i % 3 === 1 ? list.cursorBackMut() : list.cursorMutAt(p)!;
      c.moveNext();
      void c.current; // read, not changed: the next cursor is as good
    }
    for (let i = 0; i < 200; i++) {
      const c = list.cursorFrontMut(); // each takes the front and puts it back at the end
      const u = c.takeCurrent()!;
      c.moveNext();
      c.moveNext(); // past the last: the ghost
      c.insertBefore(u); // at the back
    }
    expect(values(list)).toEqual([3, 1, 2]); // 200 rotations of 3
    list.pushBack(alloc(sys, 4)); // the list's lock is free
    const three = list.popFront()!;
    expect(three.meta.value).toBe(3);
    three.drop();
    sys.checkInvariants();
    list.destroy();
    expectAllFree(sys);
  });

  it('destroy drops its frames with no list lock held: an onDrop may use lists, this one’s cursor is Dropped', () => {
    const other: LinkedList<U>[] = [];
    const seen: string[] = [];
    const Reentrant = defineMeta(
      `test.list.reentrant.${String(checked)}`,
      { value: 'u32' },
      {
        onDrop: (meta) => {
          seen.push(`drop ${meta.value}: other list ${other[0].size}`);
          other[0].pushBack(alloc(other[0]._sys as FrameSystem, meta.value)); // a list call inside onDrop
        },
      },
    );
    const sys = makeSystem({ checked });
    other.push(LinkedList.create(sys, MockUMeta));
    const list = LinkedList.create(sys, Reentrant);
    for (const v of [1, 2]) list.pushBack(new FrameAllocOptions(sys).allocUnique(Reentrant, { value: v }));
    const c = list.cursorFrontMut();
    list.destroy();
    expect(seen).toEqual(['drop 1: other list 0', 'drop 2: other list 1']);
    expect(values(other[0])).toEqual([1, 2]);
    expectUseError(() => c.current, 'Dropped');
    other[0].destroy();
    expectAllFree(sys);
  });
});

// --- Model-based: a list and its cursors against a plain array -------------------------------

/** Most frames the model keeps in the list (the region has 48; 2 are in a decoy list). */
const CAP = 40;
const MODEL_FRAMES = 48;
const DECOY = 2;
/** Cursor slots: each holds a cursor (fresh, stale or released) or none. */
const CURSORS = 2;
/** The two views of the region: this worker's (0) and another attached one (1), as another worker. */
type View = 0 | 1;

interface CursorModel {
  /** The value of the frame it is at, or 'ghost'. */
  at: number | 'ghost';
  /** Changed by anything but itself since its last call (and then for ever). */
  stale: boolean;
  released: boolean;
}

interface ListModel {
  /** Values of the list's frames, front to back; each value names one frame. */
  items: number[];
  cursors: (CursorModel | null)[];
  next: number;
}

interface ListReal {
  sys: FrameSystem;
  other: FrameSystem;
  /** The list as each view opened it. */
  lists: [LinkedList<U>, LinkedList<U>];
  decoy: LinkedList<U>;
  decoyPaddrs: Paddr[];
  cursors: (CursorMut<U> | null)[];
  /** The view each cursor was made in. */
  cursorView: View[];
  paddrOf: Map<number, Paddr>;
  /** Every address a frame of the model's list ever had. */
  seen: Paddr[];
}

type ListCmd = fc.Command<ListModel, ListReal>;

const coverage = new Map<string, number>();
function hit(label: string): void {
  coverage.set(label, (coverage.get(label) ?? 0) + 1);
}

const sysOf = (r: ListReal, v: View): FrameSystem => (v === 0 ? r.sys : r.other);

/** The list changed, by a list method (`by` undefined) or by cursor `by`: every other cursor is stale. */
function changed(m: ListModel, by?: number): void {
  m.cursors.forEach((c, k) => {
    if (c !== null && k !== by && !c.released) c.stale = true;
  });
}

function verify(m: ListModel, r: ListReal): void {
  const refs = [...r.lists[0]];
  expect(refs.map((x) => x.meta.value)).toEqual(m.items);
  expect(refs.map((x) => x.paddr)).toEqual(m.items.map((v) => r.paddrOf.get(v)));
  for (const list of r.lists) {
    expect(list.size).toBe(m.items.length);
    expect(list.isEmpty).toBe(m.items.length === 0);
  }
  m.cursors.forEach((mc, k) => {
    const c = r.cursors[k];
    if (mc === null || mc.released) return;
    if (mc.stale) {
      expectUseError(() => c!.current, 'Stale');
    } else if (mc.at === 'ghost') {
      expect(c!.current).toBeNull();
      expect(c!.currentPaddr).toBeNull();
    } else {
      expect(c!.current!.value).toBe(mc.at);
      expect(c!.currentPaddr).toBe(r.paddrOf.get(mc.at));
    }
  });
  expect(r.sys.stats().unique).toBe(m.items.length + DECOY);
  r.sys.checkInvariants();
}

class PushCmd implements ListCmd {
  constructor(
    readonly front: boolean,
    readonly view: View,
  ) {}
  check(m: Readonly<ListModel>): boolean {
    return m.items.length < CAP;
  }
  run(m: ListModel, r: ListReal): void {
    const v = m.next++;
    const u = alloc(sysOf(r, this.view), v);
    r.paddrOf.set(v, u.paddr);
    r.seen.push(u.paddr);
    const list = r.lists[this.view];
    if (this.front) list.pushFront(u);
    else list.pushBack(u);
    expectUseError(() => u.meta, 'Dropped');
    if (this.front) m.items.unshift(v);
    else m.items.push(v);
    const under = m.cursors.some((c) => c !== null && !c.released && !c.stale) ? ' under a fresh cursor' : '';
    hit(`push ${this.front ? 'front' : 'back'}${under}`);
    changed(m);
    verify(m, r);
  }
  toString(): string {
    return `push${this.front ? 'Front' : 'Back'}(view ${this.view})`;
  }
}

class PopCmd implements ListCmd {
  constructor(
    readonly front: boolean,
    readonly view: View,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: ListModel, r: ListReal): void {
    const list = r.lists[this.view];
    const u = this.front ? list.popFront() : list.popBack();
    if (m.items.length === 0) {
      expect(u).toBeNull(); // no change: no cursor goes stale
      hit('pop empty');
    } else {
      const v = (this.front ? m.items.shift() : m.items.pop())!;
      expect(u).not.toBeNull();
      expect(u!._sys).toBe(sysOf(r, this.view));
      expect(u!.meta.value).toBe(v);
      expect(u!.paddr).toBe(r.paddrOf.get(v));
      expect(list.contains(u!.paddr)).toBe(false);
      // The frame a fresh cursor stands on: the kernel's borrow rules this out; here the cursor
      // goes stale instead of handing the frame out a second time.
      if (m.cursors.some((c) => c !== null && !c.released && !c.stale && c.at === v)) hit('pop the frame a fresh cursor is at');
      u!.drop();
      r.paddrOf.delete(v);
      hit(`pop ${this.front ? 'front' : 'back'}`);
      changed(m);
    }
    verify(m, r);
  }
  toString(): string {
    return `pop${this.front ? 'Front' : 'Back'}(view ${this.view})`;
  }
}

class ContainsCmd implements ListCmd {
  constructor(
    readonly pick: number,
    readonly kind: 0 | 1 | 2 | 3 | 4,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: ListModel, r: ListReal): void {
    let p: Paddr;
    let expected: number | null = null;
    if (this.kind === 0 && m.items.length > 0) {
      expected = m.items[this.pick % m.items.length];
      p = r.paddrOf.get(expected)!;
      hit('contains listed');
    } else if (this.kind === 1) {
      p = r.decoyPaddrs[this.pick % DECOY];
      hit('contains decoy');
    } else if (this.kind === 2 && r.seen.length > 0) {
      p = r.seen[this.pick % r.seen.length]; // in the list now, or popped (and maybe reused)
      expected = m.items.find((v) => r.paddrOf.get(v) === p) ?? null;
      hit(expected === null ? 'contains seen: no' : 'contains seen: yes');
    } else if (this.kind === 3) {
      const bad = [1, PAGE_SIZE - 1, -PAGE_SIZE, r.sys.maxPaddr, r.sys.maxPaddr + PAGE_SIZE, Number.NaN, 0.5];
      p = bad[this.pick % bad.length];
      hit('contains bad');
    } else {
      p = (this.pick % MODEL_FRAMES) * PAGE_SIZE;
      expected = m.items.find((v) => r.paddrOf.get(v) === p) ?? null;
      hit(expected === null ? 'contains any: no' : 'contains any: yes');
    }
    expect(r.lists[0].contains(p)).toBe(expected !== null);
    expect(r.lists[1].contains(p)).toBe(expected !== null);
    // A cursor made and released there changes nothing: no cursor goes stale.
    const c = r.lists[this.pick % 2].cursorMutAt(p);
    if (expected === null) {
      expect(c).toBeNull();
    } else {
      expect(c!.current!.value).toBe(expected);
      expect(c!.currentPaddr).toBe(p);
      c!.release();
    }
    verify(m, r);
  }
  toString(): string {
    return `contains(${this.pick}, ${this.kind})`;
  }
}

class OpenCmd implements ListCmd {
  constructor(
    readonly k: number,
    readonly where: 'front' | 'back' | 'at',
    readonly pick: number,
    readonly view: View,
    /** What becomes of the cursor in the slot: released, or forgotten (never released). */
    readonly forget: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: ListModel, r: ListReal): void {
    const list = r.lists[this.view];
    const old = m.cursors[this.k];
    if (old !== null && !old.released) {
      if (this.forget) hit('forget a cursor');
      else r.cursors[this.k]!.release();
    }
    let at: number | 'ghost';
    if (this.where === 'front') {
      r.cursors[this.k] = list.cursorFrontMut();
      at = m.items.length > 0 ? m.items[0] : 'ghost';
    } else if (this.where === 'back') {
      r.cursors[this.k] = list.cursorBackMut();
      at = m.items.length > 0 ? m.items[m.items.length - 1] : 'ghost';
    } else if (m.items.length === 0) {
      expect(list.cursorMutAt((this.pick % MODEL_FRAMES) * PAGE_SIZE)).toBeNull();
      r.cursors[this.k] = null;
      m.cursors[this.k] = null;
      hit('open at: empty');
      verify(m, r);
      return;
    } else {
      const v = m.items[this.pick % m.items.length];
      r.cursors[this.k] = list.cursorMutAt(r.paddrOf.get(v)!)!;
      at = v;
    }
    r.cursorView[this.k] = this.view;
    m.cursors[this.k] = { at, stale: false, released: false };
    hit(`open ${this.where}${at === 'ghost' ? ' (ghost)' : ''}`);
    if (m.cursors.every((c) => c !== null && !c.released && !c.stale)) hit('two fresh cursors');
    verify(m, r);
  }
  toString(): string {
    return `open${this.k}(${this.where}, ${this.pick}, view ${this.view}${this.forget ? ', forget the old one' : ''})`;
  }
}

/**
 * A call on cursor `k`: released, it is `Dropped`; stale, `Stale`; both change nothing. Returns
 * whether it was refused so (the caller then verifies); if not, the cursor is fresh, and the
 * caller makes the call and updates the model.
 */
function refused(m: ListModel, r: ListReal, k: number, call: () => unknown, what: string): boolean {
  const mc = m.cursors[k]!;
  if (mc.released) {
    expectNoChange(r.sys, call, FrameUseError, 'Dropped');
    hit(`${what} after release`);
  } else if (mc.stale) {
    const stats = r.sys.stats();
    expectNoChange(r.sys, call, FrameUseError, 'Stale');
    expect(r.sys.stats()).toEqual(stats);
    hit(`${what} stale`);
  } else {
    return false;
  }
  return true;
}

class MoveCmd implements ListCmd {
  constructor(
    readonly k: number,
    readonly forward: boolean,
  ) {}
  check(m: Readonly<ListModel>): boolean {
    return m.cursors[this.k] !== null;
  }
  run(m: ListModel, r: ListReal): void {
    const c = r.cursors[this.k]!;
    const move = (): void => (this.forward ? c.moveNext() : c.movePrev());
    if (refused(m, r, this.k, move, 'move')) return verify(m, r);
    const mc = m.cursors[this.k]!;
    const from = mc.at;
    const n = m.items.length;
    const i = from === 'ghost' ? n : m.items.indexOf(from);
    move();
    const to = this.forward ? (i === n ? m.items[0] : m.items[i + 1]) : i === n ? m.items[n - 1] : m.items[i - 1];
    mc.at = to ?? 'ghost';
    const fromGhost = from === 'ghost' ? ' from the ghost' : '';
    const toGhost = to === undefined ? ' to the ghost' : '';
    hit(`move ${this.forward ? 'next' : 'prev'}${fromGhost}${toGhost}`);
    verify(m, r);
  }
  toString(): string {
    return `${this.forward ? 'moveNext' : 'movePrev'}${this.k}`;
  }
}

class TakeCmd implements ListCmd {
  constructor(readonly k: number) {}
  check(m: Readonly<ListModel>): boolean {
    return m.cursors[this.k] !== null;
  }
  run(m: ListModel, r: ListReal): void {
    const c = r.cursors[this.k]!;
    if (refused(m, r, this.k, () => c.takeCurrent(), 'take')) return verify(m, r);
    const mc = m.cursors[this.k]!;
    const u = c.takeCurrent();
    if (mc.at === 'ghost') {
      expect(u).toBeNull();
      hit('take at the ghost');
    } else {
      const v = mc.at;
      const i = m.items.indexOf(v);
      expect(u!.meta.value).toBe(v);
      expect(u!.paddr).toBe(r.paddrOf.get(v));
      expect(u!._sys).toBe(sysOf(r, r.cursorView[this.k]));
      m.items.splice(i, 1);
      mc.at = i < m.items.length ? m.items[i] : 'ghost';
      u!.drop();
      r.paddrOf.delete(v);
      hit(mc.at === 'ghost' ? 'take the last' : 'take');
      changed(m, this.k);
    }
    verify(m, r);
  }
  toString(): string {
    return `takeCurrent${this.k}`;
  }
}

class InsertCmd implements ListCmd {
  constructor(readonly k: number) {}
  check(m: Readonly<ListModel>): boolean {
    return m.cursors[this.k] !== null && m.items.length < CAP;
  }
  run(m: ListModel, r: ListReal): void {
    const c = r.cursors[this.k]!;
    const v = m.next++;
    const u = alloc(sysOf(r, r.cursorView[this.k]), v);
    if (refused(m, r, this.k, () => c.insertBefore(u), 'insert')) {
      expect(u.meta.value).toBe(v); // still the caller's
      u.drop();
      return verify(m, r);
    }
    r.paddrOf.set(v, u.paddr);
    r.seen.push(u.paddr);
    c.insertBefore(u);
    const mc = m.cursors[this.k]!;
    if (mc.at === 'ghost') {
      m.items.push(v);
      hit('insert at the ghost');
    } else {
      const i = m.items.indexOf(mc.at);
      m.items.splice(i, 0, v);
      hit(i === 0 ? 'insert before the first' : 'insert before');
    }
    changed(m, this.k);
    verify(m, r);
  }
  toString(): string {
    return `insertBefore${this.k}`;
  }
}

class SetMetaCmd implements ListCmd {
  constructor(readonly k: number) {}
  check(m: Readonly<ListModel>): boolean {
    const mc = m.cursors[this.k];
    return mc !== null && mc.at !== 'ghost';
  }
  run(m: ListModel, r: ListReal): void {
    const c = r.cursors[this.k]!;
    if (refused(m, r, this.k, () => c.current, 'current')) return verify(m, r);
    const mc = m.cursors[this.k]!;
    const old = mc.at as number;
    const v = m.next++;
    c.current!.value = v; // metadata, not the list: no cursor goes stale
    r.paddrOf.set(v, r.paddrOf.get(old)!);
    r.paddrOf.delete(old);
    m.items[m.items.indexOf(old)] = v;
    for (const other of m.cursors) if (other !== null && other.at === old) other.at = v;
    hit('set metadata');
    verify(m, r);
  }
  toString(): string {
    return `current${this.k}.value = …`;
  }
}

class ReleaseCmd implements ListCmd {
  constructor(readonly k: number) {}
  check(m: Readonly<ListModel>): boolean {
    return m.cursors[this.k] !== null;
  }
  run(m: ListModel, r: ListReal): void {
    const c = r.cursors[this.k]!;
    const mc = m.cursors[this.k]!;
    hit(mc.released ? 'release again' : mc.stale ? 'release a stale cursor' : 'release');
    c.release(); // never throws, idempotent
    mc.released = true;
    expectUseError(() => c.current, 'Dropped');
    verify(m, r);
  }
  toString(): string {
    return `release${this.k}`;
  }
}

const slot = fc.nat(CURSORS - 1);
const view = fc.constantFrom(0 as const, 1 as const);
const LIST_COMMANDS: fc.Arbitrary<ListCmd>[] = [
  fc.tuple(fc.boolean(), view).map(([front, v]) => new PushCmd(front, v)),
  fc.tuple(fc.boolean(), view).map(([front, v]) => new PushCmd(front, v)),
  fc.tuple(fc.boolean(), view).map(([front, v]) => new PopCmd(front, v)),
  fc.tuple(fc.nat(1000), fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const, 4 as const)).map(([p, k]) => new ContainsCmd(p, k)),
  fc.tuple(slot, fc.constantFrom('front' as const, 'back' as const, 'at' as const), fc.nat(1000), view, fc.boolean()).map(([k, w, p, v, f]) => new OpenCmd(k, w, p, v, f)),
  fc.tuple(slot, fc.constantFrom('front' as const, 'back' as const, 'at' as const), fc.nat(1000), view, fc.boolean()).map(([k, w, p, v, f]) => new OpenCmd(k, w, p, v, f)),
  fc.tuple(slot, fc.boolean()).map(([k, f]) => new MoveCmd(k, f)),
  fc.tuple(slot, fc.boolean()).map(([k, f]) => new MoveCmd(k, f)),
  fc.tuple(slot, fc.boolean()).map(([k, f]) => new MoveCmd(k, f)),
  fc.tuple(slot, fc.boolean()).map(([k, f]) => new MoveCmd(k, f)),
  slot.map((k) => new TakeCmd(k)),
  slot.map((k) => new TakeCmd(k)),
  slot.map((k) => new InsertCmd(k)),
  slot.map((k) => new InsertCmd(k)),
  slot.map((k) => new SetMetaCmd(k)),
  slot.map((k) => new ReleaseCmd(k)),
];

const REQUIRED_LABELS = [
  'push front',
  'push back',
  'push front under a fresh cursor',
  'push back under a fresh cursor',
  'pop front',
  'pop back',
  'pop empty',
  'pop the frame a fresh cursor is at',
  'contains listed',
  'contains decoy',
  'contains bad',
  'contains any: no',
  'contains seen: yes',
  'contains seen: no',
  'open front',
  'open back',
  'open at',
  'open front (ghost)',
  'two fresh cursors',
  'forget a cursor',
  'move next',
  'move prev',
  'move next to the ghost',
  'move prev to the ghost',
  'move next from the ghost',
  'move prev from the ghost',
  'move stale',
  'move after release',
  'take',
  'take the last',
  'take at the ghost',
  'take stale',
  'take after release',
  'insert before',
  'insert before the first',
  'insert at the ghost',
  'insert stale',
  'insert after release',
  'set metadata',
  'current stale',
  'release',
  'release a stale cursor',
  'release again',
];

function setupModel(checked: boolean): { model: ListModel; real: ListReal } {
  const sys = makeSystem({ frames: MODEL_FRAMES, checked });
  const other = FrameSystem.attach(sys.handle, { separate: true });
  const decoy = LinkedList.create(sys, MockUMeta);
  const decoyPaddrs: Paddr[] = [];
  for (let k = 0; k < DECOY; k++) {
    const u = alloc(sys, 100_000 + k);
    decoyPaddrs.push(u.paddr);
    decoy.pushBack(u);
  }
  const list = LinkedList.create(sys, MockUMeta);
  const there = LinkedList.open(other, list.handle, MockUMeta);
  return {
    model: { items: [], cursors: Array<CursorModel | null>(CURSORS).fill(null), next: 1 },
    real: {
      sys,
      other,
      lists: [list, there],
      decoy,
      decoyPaddrs,
      cursors: Array<CursorMut<U> | null>(CURSORS).fill(null),
      cursorView: Array<View>(CURSORS).fill(0),
      paddrOf: new Map(),
      seen: [],
    },
  };
}

function teardownModel(m: ListModel, r: ListReal): void {
  expect([...r.decoy].map((x) => x.paddr)).toEqual(r.decoyPaddrs); // never touched
  r.lists[0].destroy();
  m.cursors.forEach((mc, k) => {
    // A destroyed list's cursors are Dropped (a stale one stays Stale); release never throws.
    if (mc !== null && !mc.released) expectUseError(() => r.cursors[k]!.moveNext(), mc.stale ? 'Stale' : 'Dropped');
    r.cursors[k]?.release();
  });
  r.decoy.destroy();
  r.other.close();
  expect(r.sys.stats().free).toBe(MODEL_FRAMES);
  r.sys.checkInvariants();
  expect(m.next).toBeGreaterThan(0);
}

describe.each([{ checked: false }, { checked: true }])('model-based: a linked list and its cursors against an array (checked: $checked)', ({ checked }) => {
  it('random list calls from two views and cursor calls agree with the model; a stale cursor throws Stale exactly when the model says so, and changes nothing', () => {
    coverage.clear();
    fc.assert(
      fc.property(fc.commands(LIST_COMMANDS, { maxCommands: 60, size: 'max' }), (cmds) => {
        const state = setupModel(checked);
        fc.modelRun(() => state, cmds);
        teardownModel(state.model, state.real);
      }),
      { numRuns: checked ? 100 : 200 },
    );
    expect(REQUIRED_LABELS.filter((l) => !coverage.has(l)), 'commands no run reached').toEqual([]);
  }, 60_000);
});

// --- Real workers ----------------------------------------------------------------------------

const DIST = new URL('../../dist/index.js', import.meta.url).href;

/**
 * The worker: attaches, opens the list by handle, waits for the start signal, then pushes
 * `count` frames (role 'push': seq = 0, 1, ...; every third through a cursor at the ghost) or
 * pops until it has `count` (role 'pop': every fourth through a cursor at the front), checks each
 * frame's contents, drops it, and answers with what it saw. A cursor the other worker's change
 * made stale between two of its calls (`Stale`, nothing done) is made again. Inline (a data: URL
 * module) so that the test needs no file of its own; it runs the built package.
 */
const LIST_WORKER = `
import { parentPort, workerData } from 'node:worker_threads';
import { AllocError, FrameAllocOptions, FrameSystem, LinkedList, defineMeta } from ${JSON.stringify(DIST)};
const { handle, listHandle, role, count, go } = workerData;
const sys = FrameSystem.attach(handle);
const Item = defineMeta('test.list.item', { seq: 'u32' }, { untyped: true });
const list = LinkedList.open(sys, listHandle, Item);
const signal = new Int32Array(go);
const nap = () => Atomics.wait(signal, 1, 0, 0.05);
/** use(a new cursor) until it is not Stale (another worker changed the list): its value, and how many were stale. */
const withCursor = (make, use) => {
  for (let stale = 0; ; stale++) {
    const c = make();
    try {
      return { value: use(c), stale };
    } catch (e) {
      if (e.code !== 'Stale') throw e;
    } finally {
      c.release();
    }
  }
};
parentPort.postMessage({ ready: sys.workerId });
while (Atomics.load(signal, 0) === 0) Atomics.wait(signal, 0, 0, 20);
let result;
try {
  if (role === 'push') {
    const options = new FrameAllocOptions(sys);
    let retries = 0;
    let stale = 0;
    for (let i = 0; i < count; i++) {
      let u;
      for (;;) {
        try {
          u = options.allocUnique(Item, { seq: i });
          break;
        } catch (e) {
          if (!(e instanceof AllocError && e.code === 'NoMemory')) throw e;
          retries++;
          nap();
        }
      }
      const b = u.bytes();
      b[0] = i & 0xff;
      b[4095] = (i >>> 8) & 0xff;
      if (i % 3 === 2) {
        stale += withCursor(() => list.cursorBackMut(), (c) => {
          c.moveNext();
          c.insertBefore(u);
        }).stale;
      } else {
        list.pushBack(u);
      }
    }
    result = { pushed: count, retries, stale };
  } else {
    const got = [];
    let empty = 0;
    let stale = 0;
    let bad = 0;
    while (got.length < count) {
      let u;
      if (got.length % 4 === 3) {
        const r = withCursor(() => list.cursorFrontMut(), (c) => c.takeCurrent());
        u = r.value;
        stale += r.stale;
      } else {
        u = list.popFront();
      }
      if (u === null) {
        if (++empty % 16 === 0) nap();
        continue;
      }
      const seq = u.meta.seq;
      const b = u.bytes();
      if (b[0] !== (seq & 0xff) || b[4095] !== ((seq >>> 8) & 0xff)) bad++;
      got.push(seq);
      u.drop();
    }
    result = { got, empty, bad, stale };
  }
} catch (e) {
  result = { error: String((e && e.stack) || e) };
}
sys.close();
parentPort.postMessage(result);
`;

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

describe('workers', () => {
  it('one worker pushes while another pops, each call under the list lock: every frame arrives once, in order', async () => {
    const FRAMES = 96;
    const COUNT = 3000;
    const sys = FrameSystem.create({ frames: FRAMES });
    const Item = defineMeta('test.list.item', { seq: 'u32' }, { untyped: true });
    const list = LinkedList.create(sys, Item);
    const go = new SharedArrayBuffer(8);
    const url = new URL(`data:text/javascript,${encodeURIComponent(LIST_WORKER)}`);
    const spawn = (role: string): Worker => {
      const w = new Worker(url, { workerData: { handle: sys.handle, listHandle: list.handle, role, count: COUNT, go } });
      workers.push(w);
      return w;
    };
    const pusher = spawn('push');
    const popper = spawn('pop');
    await Promise.all([once(pusher, 'message'), once(popper, 'message')]);
    expect(sys.workers().length).toBe(3);
    const answers = Promise.all([once(pusher, 'message'), once(popper, 'message')]);
    const exits = Promise.all([once(pusher, 'exit'), once(popper, 'exit')]);
    const signal = new Int32Array(go);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
    const [[pushed], [popped]] = (await answers) as [[{ pushed?: number; error?: string }], [{ got?: number[]; bad?: number; error?: string }]];
    expect(pushed.error).toBeUndefined();
    expect(popped.error).toBeUndefined();
    expect(pushed.pushed).toBe(COUNT);
    expect(popped.bad).toBe(0);
    // Each frame exactly once, and in the order pushed (one producer, one consumer).
    expect(popped.got).toEqual(Array.from({ length: COUNT }, (_, i) => i));
    await exits;
    expect(list.size).toBe(0);
    expect(sys.workers()).toEqual([1]);
    sys.checkInvariants();
    expect(sys.stats().free).toBe(FRAMES); // both closed: their caches went back
    list.destroy();
    sys.checkInvariants();
  }, 20_000);
});

/** test/workers/list.worker.js: a worker that churns on a list, or stops inside a cursor's call. */
const LIST_WORKER_FILE = new URL('../workers/list.worker.js', import.meta.url);

/** `promise`, or an error once `ms` milliseconds passed. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('workers and fail-fast cursors', () => {
  it('issue #14 item 2: a cursor this thread never releases blocks no worker; the worker’s changes make it Stale', async () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    for (const v of [1, 2]) list.pushBack(alloc(sys, v));
    const forgotten = list.cursorFrontMut(); // never released
    expect(forgotten.current!.value).toBe(1);
    const ROUNDS = 500;
    const w = new Worker(LIST_WORKER_FILE, { workerData: { handle: sys.handle, list: list.handle, meta: MockUMeta.name, role: 'churn', count: ROUNDS } });
    workers.push(w);
    const exited = once(w, 'exit'); // listened for first: the exit may come in the same turn as the last message (Deno)
    const errors: unknown[] = [];
    w.on('error', (e) => errors.push(e));
    const messages = once(w, 'message').then(async ([hello]) => [hello, ...(await once(w, 'message'))] as [{ workerId: number }, { done: number; ms: number }]);
    const [hello, done] = await within(messages, 5000, 'the worker pushing and popping while a cursor lives here');
    expect(errors).toEqual([]);
    expect(done.done).toBe(ROUNDS);
    await exited;
    expect(values(list)).toEqual([1000 + ROUNDS - 2, 1000 + ROUNDS - 1]);
    expectStale(sys, () => forgotten.moveNext());
    expectUseError(() => forgotten.current, 'Stale');
    forgotten.release();
    sys.reclaimWorker(hello.workerId); // it exited without close: its cached frames come back
    list.destroy();
    expectAllFree(sys);
  }, 20_000);

  describe.each([{ checked: false }, { checked: true }])('a worker terminated inside a cursor’s call (checked: $checked)', ({ checked }) => {
    for (const op of ['take', 'insert'] as const) {
      for (const when of ['before', 'after'] as const) {
        it(`stopped in ${op} (${when} its work), terminated, reclaimed: the list is whole, its lock free, nothing lost but what the dead worker held`, async () => {
          const sys = makeSystem({ checked });
          const list = LinkedList.create(sys, MockUMeta);
          for (const v of [1, 2, 3]) list.pushBack(alloc(sys, v));
          const mine = list.cursorBackMut(); // this thread's cursor, made before
          const w = new Worker(LIST_WORKER_FILE, { workerData: { handle: sys.handle, list: list.handle, meta: MockUMeta.name, role: 'stop', op, when } });
          workers.push(w);
          const errors: unknown[] = [];
          w.on('error', (e) => errors.push(e));
          const messages = once(w, 'message').then(async ([hello]) => [hello, ...(await once(w, 'message'))] as [{ workerId: number }, { stopped: string; paddr: Paddr | null }]);
          const [hello, stopped] = await within(messages, 5000, `the worker stopping in ${op}`);
          expect(stopped.stopped).toBe(`${op} ${when}`);
          const i32 = sys._region.mem.i32;
          expect(i32[entryOf(list) + L_LOCK], 'it holds the list’s lock').not.toBe(0);
          await w.terminate();
          expect(errors).toEqual([]);

          const report = sys.reclaimWorker(hello.workerId);
          expect(report.locks).toEqual([`linked list ${list.id}`]);
          expect(report.pending).toBe(false);
          expect(i32[entryOf(list) + L_LOCK], 'the lock is free').toBe(0);
          sys.checkInvariants();
          const done = when === 'after';
          const expected = op === 'take' ? (done ? [2, 3] : [1, 2, 3]) : done ? [77, 1, 2, 3] : [1, 2, 3];
          expect(values(list)).toEqual(expected);
          // The frame the dead worker held through a UniqueFrame handle when it died (the one its
          // take had taken out, or the one it was about to insert) stays unique for ever: by
          // design nobody can tell a handle of a dead worker from one alive, so reclaim leaves
          // held frames alone, as it does a dead worker's Frames. Every other frame is in the
          // list or free (its cache went back to the allocator).
          const held = (op === 'take') === done;
          if (held) {
            expect(stopped.paddr).not.toBeNull();
            expect(rawCount(sys, stopped.paddr!)).toBe(REF_COUNT_UNIQUE | 0);
            expect(list.contains(stopped.paddr!)).toBe(false);
            expectNoChange(sys, () => Frame.fromInUse(sys, stopped.paddr!), GetFrameError, 'Unique');
          } else if (op === 'insert') {
            expect(list.contains(stopped.paddr!)).toBe(true);
          }
          const heldCount = held ? 1 : 0;
          expect(sys.stats()).toEqual(
            expect.objectContaining({ unique: expected.length + heldCount, used: expected.length + heldCount, busy: 0, free: 64 - expected.length - heldCount }),
          );
          // This thread's cursor is stale exactly when the dead worker changed the list.
          if (done) expectStale(sys, () => mine.current);
          else expect(mine.current!.value).toBe(3);
          mine.release();
          // The list works: pushes, a cursor's take, pops.
          list.pushBack(alloc(sys, 50));
          const c = list.cursorBackMut();
          c.takeCurrent()!.drop();
          for (let u = list.popFront(); u !== null; u = list.popFront()) u.drop();
          list.destroy();
          sys.checkInvariants();
          expect(sys.stats().free).toBe(64 - heldCount);
        }, 20_000);
      }
    }
  });
});

// --- Recovery: a worker died holding a list's lock ----------------------------------------------

type Position = 'front' | 'middle' | 'back' | 'only';
/** How far the dead worker got: the journal written but not made valid ('journal'), its kind
 *  written and the first `k` writes of the change done (0..7), or all done and the journal
 *  cleared ('cleared'), each time still holding the lock. */
type Cut = 'journal' | number | 'cleared';
const CUTS: Cut[] = ['journal', 0, 1, 2, 3, 4, 5, 6, 7, 'cleared'];

/** The writes of `applyListOp` (src/region/lists.ts), in its order: the modification count first. */
function listWrites(
  sys: FrameSystem,
  list: LinkedList<U>,
  kind: number,
  x: number,
  prev: number,
  next: number,
  size: number,
): [number, number][] {
  const e = entryOf(list);
  const slot = (f: number): number => sys._region.metaWord + (f - 1) * SLOT_WORDS;
  const xw = slot(x);
  const mod: [number, number] = [e + L_MOD, (sys._region.mem.i32[e + L_MOD] + 1) | 0];
  if (kind === LOP_LINK) {
    return [
      mod,
      [xw + S_NEXT, next],
      [xw + S_PREV, prev],
      prev !== 0 ? [slot(prev) + S_NEXT, x] : [e + L_FRONT, x],
      next !== 0 ? [slot(next) + S_PREV, x] : [e + L_BACK, x],
      [xw + S_LIST, list.id],
      [e + L_SIZE, size],
    ];
  }
  return [
    mod,
    prev !== 0 ? [slot(prev) + S_NEXT, next] : [e + L_FRONT, next],
    next !== 0 ? [slot(next) + S_PREV, prev] : [e + L_BACK, prev],
    [xw + S_NEXT, 0],
    [xw + S_PREV, 0],
    [xw + S_LIST, 0],
    [e + L_SIZE, size],
  ];
}

/**
 * A list of the survivor (worker 1) and a dead worker (an attached view, never used again after
 * the simulated death) that held the list's lock in the middle of linking (`link`) or unlinking a
 * frame at `position`, having got as far as `cut`. Returns what the list should hold after
 * reclaim, and how many frames are lost with the dead worker (a frame it had taken out, or not yet
 * put in, stays its own).
 */
function dieInListOp(kind: 'link' | 'unlink', position: Position, cut: Cut) {
  const sys = makeSystem();
  const dead = FrameSystem.attach(sys.handle, { separate: true });
  const list = LinkedList.create(sys, MockUMeta);
  const initial = position === 'only' ? (kind === 'link' ? [] : [1]) : [1, 2, 3];
  for (const v of initial) list.pushBack(alloc(sys, v));
  const frameNo = (p: Paddr): number => p / PAGE_SIZE + 1;
  const listed = [...list].map((r) => frameNo(r.paddr));
  const i32 = sys._region.mem.i32;
  let x: number;
  let prev: number;
  let next: number;
  let size: number;
  let done: number[]; // the values once the change is complete
  if (kind === 'link') {
    const u = alloc(dead, 9); // the dead worker's frame, about to be linked
    x = frameNo(u.paddr);
    const at = { front: 0, middle: 1, back: initial.length, only: 0 }[position];
    prev = at === 0 ? 0 : listed[at - 1];
    next = at < listed.length ? listed[at] : 0;
    size = initial.length + 1;
    done = [...initial.slice(0, at), 9, ...initial.slice(at)];
  } else {
    const at = { front: 0, middle: 1, back: initial.length - 1, only: 0 }[position];
    x = listed[at];
    prev = at === 0 ? 0 : listed[at - 1];
    next = at + 1 < listed.length ? listed[at + 1] : 0;
    size = initial.length - 1;
    done = initial.filter((_, k) => k !== at);
  }
  sys.checkInvariants();
  const cursor = list.cursorFrontMut(); // the survivor's, made before the dead worker's change
  // The dead worker takes the list's lock with its token and journals the change as `apply` does.
  lock(i32, entryOf(list) + L_LOCK, dead._region.token);
  const j = dead._region.rec + W_LOP;
  i32[j + 1] = list.id - 1;
  i32[j + 2] = x;
  i32[j + 3] = prev;
  i32[j + 4] = next;
  i32[j + 5] = size;
  const opKind = kind === 'link' ? LOP_LINK : LOP_UNLINK;
  const writes = listWrites(sys, list, opKind, x, prev, next, size);
  if (cut !== 'journal') {
    i32[j] = opKind;
    const n = cut === 'cleared' ? writes.length : cut;
    for (const [word, value] of writes.slice(0, n)) i32[word] = value;
    if (cut === 'cleared') i32[j] = 0;
  }
  // A link becomes the list's once its journal entry is valid (reclaim redoes it); an unlink is
  // undone unless the dead worker finished it (then the frame is the dead worker's, and lost).
  const applied = kind === 'link' ? cut !== 'journal' : cut === 'cleared';
  const expected = applied ? done : initial;
  const lost = (kind === 'link') !== applied ? 1 : 0;
  return { sys, dead, list, expected, lost, x, cursor };
}

describe('reclaimWorker: a worker died holding a list’s lock', () => {
  it('a dead worker’s cursors hold no lock: nothing to take back, the list and other cursors untouched', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockUMeta);
    for (const v of [1, 2]) list.pushBack(alloc(sys, v));
    const mine = list.cursorFrontMut();
    const dead = FrameSystem.attach(sys.handle, { separate: true });
    const theirs = LinkedList.open(dead, list.handle, MockUMeta).cursorFrontMut(); // alive when it died
    theirs.moveNext();
    expect(sys._region.mem.i32[entryOf(list) + L_LOCK]).toBe(0);
    const report = sys.reclaimWorker(dead.workerId);
    expect(report.locks).toEqual([]);
    sys.checkInvariants();
    expect(mine.current!.value).toBe(1); // a cursor's moves are no change
    using c = list.cursorBackMut();
    expect(c.current!.value).toBe(2);
    list.destroy();
    expect(sys.stats().free).toBe(64);
  });

  for (const kind of ['link', 'unlink'] as const) {
    for (const position of ['front', 'middle', 'back', 'only'] as const) {
      it(`dies mid-${kind} at the ${position}, at every step: reclaim leaves the list whole`, () => {
        for (const cut of CUTS) {
          const label = `${kind} ${position} cut ${cut}`;
          const { sys, dead, list, expected, lost, x, cursor } = dieInListOp(kind, position, cut);
          // Half done, the list is broken (after the count, a link is visible from its third
          // write on, an unlink from its first).
          const broken = typeof cut === 'number' && cut < 7 && cut >= (kind === 'link' ? 4 : 2);
          if (broken) expect(() => sys.checkInvariants(), label).toThrow(InvariantError);
          const report = sys.reclaimWorker(dead.workerId);
          expect(report.locks, label).toContain(`linked list ${list.id}`);
          const i32 = sys._region.mem.i32;
          expect(i32[entryOf(list) + L_LOCK], label).toBe(0);
          expect(i32[dead._region.rec + W_LOP], label).toBe(0);
          sys.checkInvariants();
          expect(values(list), label).toEqual(expected);
          expect(list.size, label).toBe(expected.length);
          const xPaddr = (x - 1) * PAGE_SIZE;
          // The frame being linked or unlinked: in the list once the change became valid (a link
          // is redone, an unlink undone), out of it only if the dead worker finished unlinking.
          const inList = kind === 'link' ? cut !== 'journal' : cut !== 'cleared';
          expect(list.contains(xPaddr), label).toBe(inList);
          if (inList) expect(i32[slotOf(sys, xPaddr) + S_LIST], label).toBe(list.id);
          // A cursor of the list as it was before: stale once the change was journaled (a redo
          // bumps the count, whatever the dead worker had done), good if it never began.
          if (cut === 'journal') expect(cursor.current?.value, label).toBe(expected[0]);
          else expectUseError(() => cursor.current, 'Stale');
          // The list works: a cursor, a push and pops.
          list.cursorFrontMut().release();
          list.pushBack(alloc(sys, 50));
          expect(values(list), label).toEqual([...expected, 50]);
          for (let u = list.popFront(); u !== null; u = list.popFront()) u.drop();
          sys.checkInvariants();
          list.destroy();
          expect(sys.stats().free, label).toBe(64 - lost);
        }
      });
    }
  }
});
