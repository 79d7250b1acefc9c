// The census of a region (src/region/census.ts): its counts against what was allocated (and
// against stats() and the frame map, its two readers), its per-frame reading of each state, and
// each invariant it checks, broken by a stray write into a slot, the deferred-drop stack or a
// list entry, and whole again once the word is restored.
import { describe, expect, it } from 'vitest';
import { Frame, FrameAllocOptions, FrameSystem, InvariantError, LinkedList, PAGE_SIZE, captureFrameMap, defineMeta } from '../../src/index.js';
import {
  SLOT_BUSY,
  SLOT_ILLEGAL,
  SLOT_SHARED,
  SLOT_UNIQUE,
  SLOT_UNUSED,
  SlotReading,
  checkLists,
  checkRegion,
  checkSlots,
  countSlots,
  deferredFrames,
  liveLists,
  readSlot,
  slotState,
  stateOfCount,
} from '../../src/region/census.js';
import { H_DEFER_HEAD, H_LISTS, LIST_WORDS } from '../../src/region/geometry.js';
import { L_SIZE } from '../../src/region/lists.js';
import { RC_UNIQUE, RC_UNUSED, SLOT_SHIFT, S_NEXT } from '../../src/region/meta.js';
import type { Region } from '../../src/region/region.js';

const Page = defineMeta('test.census.page', { n: 'u32' });
const Node = defineMeta('test.census.node', { key: 'u32' });

/** Word index of frame `k`'s slot. */
const slotAt = (r: Region, k: number): number => r.metaWord + (k << SLOT_SHIFT);

/** Writes `value` at word `word`, runs `fn`, and puts the word back. */
function withWord(r: Region, word: number, value: number, fn: () => void): void {
  const saved = r.i32[word];
  r.i32[word] = value;
  try {
    fn();
  } finally {
    r.i32[word] = saved;
  }
}

describe('census', () => {
  it('stateOfCount: the five states of a count word', () => {
    expect([RC_UNUSED, 0, 1, 0x7fff_ffff, RC_UNIQUE, -3, -0x8000_0000].map(stateOfCount)).toEqual([
      SLOT_UNUSED,
      SLOT_BUSY,
      SLOT_SHARED,
      SLOT_SHARED,
      SLOT_UNIQUE,
      SLOT_ILLEGAL,
      SLOT_ILLEGAL,
    ]);
  });

  it('countSlots counts what was allocated, by state and by type id, as stats() reports it', () => {
    const sys = FrameSystem.create({ frames: 64 });
    const r = sys._region;
    const pages = [sys.allocFrame(Page, { n: 1 }), sys.allocFrame(Page, { n: 2 }), sys.allocFrame(Page, { n: 3 })];
    const node = new FrameAllocOptions(sys).allocUnique(Node, { key: 7 });
    const plain = sys.allocFrame();
    const raw = sys.allocator.alloc(2, 1)!;
    const c = countSlots(r);
    expect(c).toEqual(expect.objectContaining({ unused: 64 - 5, busy: 0, shared: 4, unique: 1, illegal: 0 }));
    const pageId = readSlot(r, pages[0].paddr / PAGE_SIZE, new SlotReading()).type;
    const nodeId = readSlot(r, node.paddr / PAGE_SIZE, new SlotReading()).type;
    const plainId = readSlot(r, plain.paddr / PAGE_SIZE, new SlotReading()).type;
    expect(new Set([pageId, nodeId, plainId]).size).toBe(3);
    expect([c.byType[pageId], c.byType[nodeId], c.byType[plainId]]).toEqual([3, 1, 1]);
    expect(c.byType.reduce((a, b) => a + b, 0)).toBe(5);
    expect(sys.stats()).toEqual(
      expect.objectContaining({ shared: 4, unique: 1, busy: 0, raw: 2, byType: { 'test.census.page': 3, 'test.census.node': 1, 'pageframe.untyped': 1 } }),
    );
    // A stray word is counted apart, and the state counts still add up to the region.
    withWord(r, slotAt(r, pages[1].paddr / PAGE_SIZE), -7, () => {
      const broken = countSlots(r);
      expect(broken).toEqual(expect.objectContaining({ shared: 3, illegal: 1 }));
      expect(broken.unused + broken.busy + broken.shared + broken.unique + broken.illegal).toBe(64);
      expect(broken.byType[pageId]).toBe(2);
      // stats() and the frame map both show it busy, and so agree.
      expect(sys.stats()).toEqual(expect.objectContaining({ shared: 3, busy: 1, byType: expect.objectContaining({ 'test.census.page': 2 }) }));
      expect(captureFrameMap(sys).counts).toEqual(expect.objectContaining({ shared: 3, busy: 1 }));
    });
    for (const p of pages) p.drop();
    node.drop();
    plain.drop();
    sys.allocator.dealloc(raw, 2);
    expect(countSlots(r)).toEqual(expect.objectContaining({ unused: 64, shared: 0, unique: 0 }));
    sys.checkInvariants();
  });

  it('readSlot reads each state: shared counts, unique in a list, forgotten references, free marks', () => {
    const sys = FrameSystem.create({ frames: 64, checked: true });
    const r = sys._region;
    const into = new SlotReading();
    const page = sys.allocFrame(Page, { n: 1 });
    const again = page.clone();
    const k = page.paddr / PAGE_SIZE;
    expect(readSlot(r, k, into)).toBe(into); // filled in place
    expect(into).toEqual(expect.objectContaining({ state: SLOT_SHARED, count: 2, list: 0, forgotten: 0, freeMark: false }));
    const paddr = again.intoRaw(); // checked mode records the forgotten reference
    expect(readSlot(r, k, into)).toEqual(expect.objectContaining({ state: SLOT_SHARED, count: 2, forgotten: 1 }));
    const list = LinkedList.create(sys, Node);
    list.pushBack(new FrameAllocOptions(sys).allocUnique(Node, { key: 1 }));
    const listed = [...list][0].paddr / PAGE_SIZE;
    expect(readSlot(r, listed, into)).toEqual(expect.objectContaining({ state: SLOT_UNIQUE, count: RC_UNIQUE, list: list.id }));
    const raw = sys.allocator.alloc(1, 1)! / PAGE_SIZE;
    expect(readSlot(r, raw, into)).toEqual(expect.objectContaining({ state: SLOT_UNUSED, type: 0, freeMark: false }));
    expect(slotState(r, raw)).toBe(SLOT_UNUSED);
    // The buddy allocator's free frames carry its mark (a cached frame would not; none is yet).
    const free = [...Array(64).keys()].find((f) => f !== k && f !== listed && f !== raw && readSlot(r, f, into).freeMark);
    expect(free).toBeDefined();
    sys.allocator.dealloc(raw * PAGE_SIZE, 1);
    list.popFront()!.drop();
    list.destroy();
    page.drop();
    Frame.fromRaw(sys, paddr).drop();
    sys.checkInvariants();
  });

  it('checkSlots reports a broken slot with the frame and why; busy is legal only on the deferred-drop stack', () => {
    const sys = FrameSystem.create({ frames: 64 });
    const r = sys._region;
    const page = sys.allocFrame(Page, { n: 1 });
    const k = page.paddr / PAGE_SIZE;
    const w = slotAt(r, k);
    const where = `slot of frame 0x${page.paddr.toString(16)}`;
    checkRegion(r);
    withWord(r, w, -5, () => {
      expect(() => checkSlots(r, new Set())).toThrow(InvariantError);
      expect(() => checkSlots(r, new Set())).toThrow(`${where}: illegal reference count 4294967291 (between REF_COUNT_MAX and REF_COUNT_UNIQUE)`);
      expect(() => sys.checkInvariants()).toThrow(/illegal reference count 4294967291/);
    });
    withWord(r, w, 0, () => {
      expect(() => checkSlots(r, new Set())).toThrow(`${where}: busy outside an operation`);
      checkSlots(r, new Set([k])); // as if it waited on the deferred-drop stack
    });
    withWord(r, w + 1, 99, () => expect(() => checkSlots(r, new Set())).toThrow(`${where}: held (count 1) with unregistered type id 99`));
    checkRegion(r);
    page.drop();
  });

  it('deferredFrames walks the deferred-drop stack, and refuses a cycle or a link out of the region', () => {
    const sys = FrameSystem.create({ frames: 64 });
    const r = sys._region;
    expect(deferredFrames(r).size).toBe(0);
    // Frames 3 -> 5 -> end, written as links (index + 1), as a teardown deferral would.
    withWord(r, H_DEFER_HEAD, 4, () =>
      withWord(r, slotAt(r, 3) + S_NEXT, 6, () => {
        expect([...deferredFrames(r)]).toEqual([3, 5]);
        withWord(r, slotAt(r, 5) + S_NEXT, 4, () => expect(() => deferredFrames(r)).toThrow('deferred-drop stack: the stack has a cycle'));
        withWord(r, slotAt(r, 5) + S_NEXT, 65, () => expect(() => deferredFrames(r)).toThrow('deferred-drop stack: a link out of the region (65)'));
      }),
    );
    checkRegion(r);
  });

  it('liveLists and checkLists: the list table as it stands, and a size that disagrees with the links', () => {
    const sys = FrameSystem.create({ frames: 64 });
    const r = sys._region;
    const list = LinkedList.create(sys, Node);
    for (const key of [1, 2, 3]) list.pushBack(new FrameAllocOptions(sys).allocUnique(Node, { key }));
    const [first, , last] = [...list].map((f) => f.paddr / PAGE_SIZE + 1);
    const nodeId = readSlot(r, first - 1, new SlotReading()).type;
    expect(liveLists(r)).toEqual([{ id: list.id, front: first, back: last, size: 3, type: nodeId }]);
    checkLists(r);
    withWord(r, H_LISTS + (list.id - 1) * LIST_WORDS + L_SIZE, 4, () => {
      expect(() => checkLists(r)).toThrow(`linked list ${list.id}: size says 4, the links hold 3`);
    });
    while (!list.isEmpty) list.popFront()!.drop();
    list.destroy();
    expect(liveLists(r)).toEqual([]);
    checkRegion(r);
  });
});
