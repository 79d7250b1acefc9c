// The WebAssembly fast path of one-frame operations (src/frame/fast-path.ts): when a system uses
// it, that it writes exactly what the JavaScript path writes (word for word, journals and caches
// included), and each status it hands back to JavaScript: onDrop, a full cache, a drain request,
// a drop of a frame not held, a claim that finds the slot taken; runs of a segment's frames.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AllocError,
  Frame,
  FrameAllocOptions,
  Segment,
  FrameSystem,
  FrameUseError,
  PAGE_SIZE,
  UniqueFrame,
  Untyped,
  defineMeta,
  type AnyMeta,
  type GlobalFrameAllocator,
} from '../../src/index.js';
import { computeLayout } from '../../src/region/geometry.js';
import { H_REGION_ID } from '../../src/region/header.js';
import { W_OP_COUNT, W_OP_START } from '../../src/region/journal.js';
import { dropRef } from '../../src/frame/meta.js';
import { claim, countOf, isCachedHead, slotWord } from '../../src/region/meta.js';
import { BuddyAllocator } from '../../src/frame-allocator/buddy.js';
import { MockMeta, MockUMeta, expectAllFree, expectThrown, firstDifference } from '../helpers.js';

const Logged = defineMeta('test.fast-path.logged', { n: 'u32' }, { onDrop: (meta) => dropped.push(meta.n) });
const dropped: number[] = [];

function onSab(frames: number, options: { checked?: boolean } = {}): FrameSystem {
  return FrameSystem.create({ frames, memory: new SharedArrayBuffer(computeLayout(frames, 0).totalBytes), ...options });
}

/** The header and the metadata region, word for word (the frames' bytes are not compared). */
/** The region's header and slots, but for its random id (two regions differ there). */
function metadataWords(sys: FrameSystem): Int32Array {
  const words = sys._region.mem.i32.slice(0, sys._region.frameByte >> 2);
  words.fill(0, H_REGION_ID, H_REGION_ID + 2);
  return words;
}

function journalClear(sys: FrameSystem): boolean {
  const i32 = sys._region.mem.i32;
  return i32[sys._region.rec + W_OP_START] === 0 && i32[sys._region.rec + W_OP_COUNT] === 0;
}

describe('the WebAssembly fast path', () => {
  it('is used only on a shared WebAssembly.Memory, with the default allocator and caches (checked or not)', () => {
    const sys = FrameSystem.create({ frames: 16 });
    expect(sys._region.fast).toBeDefined();
    expect(FrameSystem.attach(sys.handle, { separate: true })._region.fast).toBeDefined();
    expect(FrameSystem.create({ frames: 16, checked: true })._region.fast).toBeDefined();
    expect(onSab(16, { checked: true })._region.fast).toBeUndefined();
    expect(FrameSystem.create({ frames: 16, caches: false })._region.fast).toBeUndefined();
    expect(onSab(16)._region.fast).toBeUndefined();
    // A plugged-in allocator (single frames on a stack) keeps every operation in JavaScript.
    const stack: number[] = [];
    const custom: GlobalFrameAllocator = {
      alloc: (n) => (n === 1 ? (stack.pop() ?? null) : null),
      dealloc: (paddr) => void stack.push(paddr),
      addFreeMemory: (paddr, n) => {
        for (let k = n - 1; k >= 0; k--) stack.push(paddr + k * 4096);
      },
    };
    const withCustom = FrameSystem.create({ frames: 16, allocator: custom });
    expect(withCustom._region.fast).toBeUndefined();
    withCustom.allocFrame().drop();
    expect(stack.length).toBe(16);
    sys.close();
    expect(sys._region.fast).toBeUndefined();
  });

  it.each([false, true])('writes the same words as the JavaScript path, for any sequence of one-frame operations (checked: %s)', (checked) => {
    type Cmd =
      | { op: 'alloc'; type: number; unique: boolean; init: number | null }
      | { op: 'segment'; type: number; n: number; init: boolean }
      | { op: 'clone'; k: number }
      | { op: 'drop'; k: number };
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ op: fc.constant('alloc' as const), type: fc.integer({ min: 0, max: 3 }), unique: fc.boolean(), init: fc.option(fc.nat(), { nil: null }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('segment' as const), type: fc.integer({ min: 0, max: 3 }), n: fc.integer({ min: 1, max: 9 }), init: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('clone' as const), k: fc.nat() }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('drop' as const), k: fc.nat() }) },
    );
    const types: AnyMeta[] = [Untyped, MockMeta, MockUMeta, Logged];
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 120 }), fc.boolean(), (cmds, zeroed) => {
        const frames = 48; // more than the 1-frame cache holds: refills and flushes happen
        const systems = [FrameSystem.create({ frames, checked }), onSab(frames, { checked })];
        expect(systems[0]._region.fast).toBeDefined();
        expect(systems[1]._region.fast).toBeUndefined();
        const handles: (Frame<AnyMeta> | UniqueFrame<AnyMeta> | Segment<AnyMeta>)[][] = [[], []];
        const drops: number[][] = [[], []];
        systems.forEach((sys, s) => {
          const opts = new FrameAllocOptions(sys).zeroed(zeroed);
          const live = handles[s];
          dropped.length = 0;
          for (const c of cmds) {
            if (c.op === 'segment') {
              const type = types[c.type];
              const init = c.init && type !== Untyped ? (p: number) => ({ [type === Logged ? 'n' : 'value']: p / 4096 }) : undefined;
              try {
                live.push(opts.allocSegmentWith(c.n, type, init));
              } catch (e) {
                expect(e).toMatchObject({ code: 'NoMemory' });
              }
            } else if (c.op === 'alloc') {
              const type = types[c.type];
              const init = c.init === null || type === Untyped ? undefined : type === Logged ? { n: c.init } : { value: c.init };
              try {
                live.push(c.unique ? opts.allocUnique(type, init) : opts.allocFrameWith(type, init));
              } catch (e) {
                expect(e).toMatchObject({ code: 'NoMemory' });
              }
            } else if (live.length > 0) {
              const i = c.k % live.length;
              const h = live[i];
              if (c.op === 'clone' && !(h instanceof UniqueFrame)) live.push(h.clone());
              else if (c.op === 'drop') {
                h.drop();
                live.splice(i, 1);
              }
            }
            expect(journalClear(sys)).toBe(true);
          }
          drops[s] = [...dropped];
        });
        expect(drops[0]).toEqual(drops[1]); // the same onDrop calls, in the same order
        const [a, b] = systems.map(metadataWords);
        expect(firstDifference(a, b), 'first differing word of the metadata').toBe(-1);
        for (const sys of systems) sys.checkInvariants();
        handles.forEach((live) => live.forEach((h) => h.drop()));
        for (const sys of systems) expectAllFree(sys);
      }),
      { numRuns: checked ? 60 : 150 },
    );
  });

  it("runs the buddy allocator's per-frame marks and writes what the JavaScript loops write", () => {
    const systems = [FrameSystem.create({ frames: 300 }), onSab(300)];
    const calls = { markTaken: 0, markFree: 0 };
    const fast = systems[0]._region.fast!;
    const { markTaken, markFree } = fast;
    Object.assign(fast, {
      markTaken: (w: number, n: number) => (calls.markTaken++, markTaken(w, n)),
      markFree: (w: number, n: number) => (calls.markFree++, markFree(w, n)),
    });
    for (const sys of systems) {
      const a = sys.allocator;
      const p = a.alloc(37, 1)!; // from a 64-frame chunk: the 27 frames past the run go back
      const q = a.alloc(200, 8)!;
      a.dealloc(p + 5 * 4096, 20);
      sys.allocSegment(9).drop();
      a.dealloc(q, 200);
      a.dealloc(p, 5);
      a.dealloc(p + 25 * 4096, 12);
      sys.checkInvariants();
    }
    expect(calls.markTaken).toBeGreaterThanOrEqual(3);
    expect(calls.markFree).toBeGreaterThanOrEqual(4);
    const [a, b] = systems.map(metadataWords);
    expect(firstDifference(a, b), 'first differing word of the metadata').toBe(-1);
    for (const sys of systems) expectAllFree(sys);
  });

  it('leaves a last drop with an onDrop to JavaScript, which runs it', () => {
    const sys = FrameSystem.create({ frames: 8 });
    dropped.length = 0;
    const f = sys.allocFrame(Logged, { n: 7 });
    const g = f.clone();
    f.drop();
    expect(dropped).toEqual([]);
    g.drop();
    expect(dropped).toEqual([7]);
    expect(journalClear(sys)).toBe(true);
    expectAllFree(sys);
  });

  it('gives frames to the buddy level when the cache is full', () => {
    const sys = FrameSystem.create({ frames: 128 });
    const opts = new FrameAllocOptions(sys).zeroed(false);
    const frames = Array.from({ length: 100 }, () => opts.allocFrame());
    for (const f of frames) f.drop(); // the 1-frame cache holds 32: the rest go to the buddy level
    expect(sys._cache!.cachedFrames(sys.workerId)).toBe(32);
    expect(journalClear(sys)).toBe(true);
    expectAllFree(sys);
  });

  it("skips entries whose frame another worker took (a steal), and caches with the head's mark", () => {
    const sys = FrameSystem.create({ frames: 16 });
    expect(sys._region.fast).toBeDefined();
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const opts = new FrameAllocOptions(sys).zeroed(false);
    const mine = Array.from({ length: 16 }, () => opts.allocFrame());
    for (const f of mine.slice(0, 4)) f.drop(); // cached by the fast path's drop
    const head = (p: number): number => Atomics.load(sys._region.mem.i32, sys._region.metaWord + (p / 4096) * 16);
    expect(head(mine[0].paddr)).toBe(sys._region.cachedOne);
    const taken = Array.from({ length: 4 }, () => other.allocFrame()); // stolen: nothing else is free
    expect(taken.map((f) => f.paddr).sort()).toEqual(mine.slice(0, 4).map((f) => f.paddr).sort());
    mine[4].drop(); // one live entry on top of four stale ones
    const f = opts.allocFrame();
    expect(f.paddr).toBe(mine[4].paddr);
    expect(() => opts.allocFrame()).toThrow(AllocError); // the stale entries skipped: nothing left
    expect(journalClear(sys)).toBe(true);
    sys.checkInvariants();
    f.drop();
    for (const g of [...mine.slice(5), ...taken]) g.drop();
    other.close();
    expectAllFree(sys);
  });

  it('a drop of a frame nobody holds is NotHeld and changes nothing', () => {
    const sys = FrameSystem.create({ frames: 8 });
    const f = sys.allocFrame();
    const { _w: w, paddr } = f;
    f.drop();
    const before = metadataWords(sys);
    expectThrown(() => dropRef(sys, w, paddr), FrameUseError, 'NotHeld');
    expect(firstDifference(before, metadataWords(sys))).toBe(-1);
    expectAllFree(sys);
  });

  it("a cached frame cannot be claimed behind the allocator's back: its count word says cached", () => {
    const sys = FrameSystem.create({ frames: 8 });
    const f = sys.allocFrame();
    const paddr = f.paddr;
    f.drop(); // now on top of this worker's cache
    // A misbehaving worker tries the slot's own claim on the free frame (Frame.fromUnused
    // refuses it as 'Free' before that): the CAS from UNUSED fails, nothing changes.
    const r = sys._region;
    const w = slotWord(r, paddr / PAGE_SIZE);
    expect(isCachedHead(claim(r, w))).toBe(true);
    expect(countOf(r, w)).toBe(r.cachedOne);
    const g = sys.allocFrame(); // the allocator still has it
    expect(g.paddr).toBe(paddr);
    expect(journalClear(sys)).toBe(true);
    g.drop();
    expectAllFree(sys);
  });

  it('a buddy-only worker (no caches) still drops through JavaScript', () => {
    const sys = FrameSystem.create({ frames: 8, caches: false });
    expect(sys.allocator).toBeInstanceOf(BuddyAllocator);
    sys.allocFrame().drop();
    expectAllFree(sys);
  });
});
