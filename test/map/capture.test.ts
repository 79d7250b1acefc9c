/**
 * captureFrameMap: every frame state is classified as the region holds it, the counts agree with
 * stats(), the workers' caches, linked lists and free runs are read right, the map survives JSON,
 * and capturing changes nothing in the region.
 */
import { describe, expect, it } from 'vitest';
import { Frame, FrameAllocOptions, FrameSystem, LinkedList, PAGE_SIZE, defineMeta, type GlobalFrameAllocator, type Paddr } from '../../src/index.js';
import { captureFrameMap } from '../../src/map/capture.js';
import { FRAME_MAP_FORMAT, FrameMapFormatError, parseFrameMap, type FrameMap, type FrameState } from '../../src/map/format.js';
import { fragmentationOf, freeRunsOf } from '../../src/map/free-runs.js';
import { H_DEFER_HEAD, H_REGISTRY, TYPE_ENTRY_WORDS } from '../../src/region/geometry.js';
import { SLOT_WORDS, S_TYPE } from '../../src/region/meta.js';
import { TYPE_FLAG_ON_DROP, T_FLAGS } from '../../src/region/registry.js';
import { MockMeta, MockUMeta, expectAllFree, firstDifference, makeSystem, snapshot } from '../helpers.js';

const at = (paddr: number): number => paddr / PAGE_SIZE;

function stateAt(map: FrameMap, paddr: number): FrameState {
  const letter = map.states[at(paddr)];
  const state = (Object.entries({ free: 'F', cached: 'C', raw: 'R', busy: 'B', shared: 'S', unique: 'U' }) as [FrameState, string][]).find(([, l]) => l === letter);
  if (state === undefined) throw new Error(`no state letter ${letter}`);
  return state[0];
}

function typeNameAt(map: FrameMap, paddr: number): string | undefined {
  return map.types.find((t) => t.id === map.typeIds[at(paddr)])?.name;
}

/** Counts of the map in the shape of stats(). */
function statsOf(map: FrameMap): object {
  const byType: Record<string, number> = {};
  for (const t of map.types) if (t.frames > 0) byType[t.name] = t.frames;
  const c = map.counts;
  return { total: map.nframes, free: c.free, used: map.nframes - c.free, shared: c.shared, unique: c.unique, busy: c.busy, raw: c.raw, byType };
}

describe('captureFrameMap', () => {
  it('a fresh region: every frame free, one free run, no fragmentation, the format tag', () => {
    const sys = makeSystem({ frames: 64 });
    const map = captureFrameMap(sys);
    expect(map.format).toBe(FRAME_MAP_FORMAT);
    expect(map.nframes).toBe(64);
    expect(map.pageSize).toBe(PAGE_SIZE);
    expect(map.allocator).toBe('default');
    expect(map.capturedBy).toBe(sys.workerId);
    expect(Number.isNaN(Date.parse(map.capturedAt))).toBe(false);
    expect(map.states).toBe('F'.repeat(64));
    expect(map.freeRuns).toEqual([[0, 64]]);
    expect(map.fragmentation).toEqual({ freeFrames: 64, runs: 1, largestRun: 64, ratio: 0 });
    expect(map.workers).toEqual([{ id: 1, attached: true, cachedFrames: 0, cachedRuns: [] }]);
    expect(map.stats).toEqual(sys.stats());
  });

  it('classifies every state: shared with counts, unique, in a list, untyped, forgotten, raw, cached, busy, free', () => {
    const sys = makeSystem({ frames: 64, checked: true, leakStacks: false });
    const options = new FrameAllocOptions(sys);
    const shared = sys.allocFrame(MockMeta, { value: 1 });
    const clones = [shared.clone(), shared.clone()]; // count 3
    const untyped = sys.allocFrame(MockUMeta, { value: 2 });
    const plain = sys.allocFrame();
    const unique = options.allocUnique(MockMeta, { value: 3 });
    const list = LinkedList.create(sys, MockMeta);
    const listed = options.allocUnique(MockMeta, { value: 4 });
    const listedPaddr = listed.paddr;
    list.pushBack(listed);
    const forgottenOf = sys.allocFrame(MockMeta, { value: 5 });
    const forgottenPaddr = forgottenOf.clone().intoRaw(); // count 2, one of them forgotten
    const rawRun = sys.allocator.alloc(2, 1)!;
    const reset = options.allocUnique(MockMeta, { value: 6 });
    reset.resetAsUnused(); // UNUSED, owned raw by the caller

    // Busy: a last drop in a worker that lacks the type's onDrop, which another worker defined
    // (the registry flag its defineMeta sets): the frame waits on the deferred-drop stack.
    const name = 'test.map.late';
    const Late = defineMeta(name, { value: 'u32' });
    const late = sys.allocFrame(Late, { value: 7 });
    const latePaddr = late.paddr;
    const i32 = sys._region.mem.i32;
    const w = sys._region.metaWord + at(latePaddr) * SLOT_WORDS;
    Atomics.or(i32, H_REGISTRY + (i32[w + S_TYPE] - 1) * TYPE_ENTRY_WORDS + T_FLAGS, TYPE_FLAG_ON_DROP);
    late.drop();
    expect(i32[H_DEFER_HEAD]).toBe(at(latePaddr) + 1);

    const dropped = sys.allocFrame();
    const cachedPaddr = dropped.paddr;
    dropped.drop(); // to this worker's cache (allocated last: the cache is LIFO)

    const before = snapshot(sys);
    const map = captureFrameMap(sys);
    expect(firstDifference(before, snapshot(sys)), 'capturing changed the region').toBe(-1);
    sys.checkInvariants();

    expect(stateAt(map, shared.paddr)).toBe('shared');
    expect(map.refCounts[at(shared.paddr)]).toBe(3);
    expect(typeNameAt(map, shared.paddr)).toBe('test.MockFrameMeta');
    expect(stateAt(map, untyped.paddr)).toBe('shared');
    expect(map.types.find((t) => t.name === 'test.MockUFrameMeta')?.untyped).toBe(true);
    expect(map.types.find((t) => t.name === 'test.MockFrameMeta')?.untyped).toBe(false);
    expect(typeNameAt(map, plain.paddr)).toBe('pageframe.untyped');
    expect(stateAt(map, unique.paddr)).toBe('unique');
    expect(map.refCounts[at(unique.paddr)]).toBe(1);
    expect(map.lists[at(unique.paddr)]).toBe(0);
    expect(stateAt(map, listedPaddr)).toBe('unique');
    expect(map.lists[at(listedPaddr)]).toBe(list.handle.id);
    expect(map.linkedLists).toEqual([{ id: list.handle.id, size: 1, type: 'test.MockFrameMeta' }]);
    expect(stateAt(map, forgottenPaddr)).toBe('shared');
    expect(map.refCounts[at(forgottenPaddr)]).toBe(2);
    expect(map.forgotten[at(forgottenPaddr)]).toBe(1);
    expect(map.forgotten.reduce((a, b) => a + b, 0)).toBe(1);
    expect(stateAt(map, rawRun)).toBe('raw');
    expect(stateAt(map, rawRun + PAGE_SIZE)).toBe('raw');
    expect(stateAt(map, reset.paddr)).toBe('raw');
    expect(map.typeIds[at(reset.paddr)]).toBe(0);
    expect(stateAt(map, cachedPaddr)).toBe('cached');
    expect(map.workers[0].cachedRuns).toContainEqual([at(cachedPaddr), 1]);
    expect(map.workers[0].cachedFrames).toBe(sys._cache!.cachedFrames(1));
    expect(stateAt(map, latePaddr)).toBe('busy');
    expect(typeNameAt(map, latePaddr)).toBe(name);

    // The per-state counts are stats()'s, and add up.
    expect(statsOf(map)).toEqual(sys.stats());
    expect(map.stats).toEqual(sys.stats());
    const c = map.counts;
    expect(c.free + c.raw + c.busy + c.shared + c.unique).toBe(64);
    expect(c).toEqual(expect.objectContaining({ raw: 3, busy: 1, unique: 2, inList: 1, forgotten: 1, forgottenRefs: 1 }));
    expect(c.untyped).toBe(2); // the MockUMeta frame and the Untyped one
    expect(c.cached).toBe(map.workers[0].cachedFrames);
    const mock = map.types.find((t) => t.name === 'test.MockFrameMeta')!;
    expect(mock).toEqual(expect.objectContaining({ frames: 4, shared: 2, unique: 2, inList: 1 }));
    // Free runs cover exactly the free and cached frames.
    let covered = 0;
    for (const [start, n] of map.freeRuns) {
      for (let k = start; k < start + n; k++) expect('FC').toContain(map.states[k]);
      covered += n;
    }
    expect(covered).toBe(c.free);

    // Clean up, and the region is whole again.
    defineMeta(name, { value: 'u32' }, { onDrop: () => {} });
    expect(sys.drainDeferred()).toBe(1);
    for (const f of [shared, ...clones, untyped, plain, forgottenOf]) f.drop();
    list.popFront()!.drop();
    unique.drop();
    list.destroy();
    sys.allocator.dealloc(rawRun, 2);
    sys.allocator.dealloc(reset.paddr, 1);
    // fromRaw takes the forgotten reference back: then nothing is forgotten.
    Frame.fromRaw(sys, forgottenPaddr, MockMeta).drop();
    expectAllFree(sys);
    expect(captureFrameMap(sys).counts).toEqual(expect.objectContaining({ free: 64, forgotten: 0, inList: 0 }));
  });

  it('free runs and fragmentation of a constructed fragmentation', () => {
    // No caches: every drop goes straight to the buddy allocator.
    const sys = makeSystem({ frames: 64, caches: false });
    const frames = new Map<number, { drop(): void }>();
    for (let i = 0; i < 64; i++) {
      const f = sys.allocFrame();
      frames.set(at(f.paddr), f);
    }
    expect(captureFrameMap(sys).fragmentation).toEqual({ freeFrames: 0, runs: 0, largestRun: 0, ratio: 0 });
    const free = [0, 1, 2, 3, 10, 11, 20, ...Array.from({ length: 24 }, (_, i) => 40 + i)];
    for (const k of free) frames.get(k)!.drop();
    const map = captureFrameMap(sys);
    expect(map.freeRuns).toEqual([[0, 4], [10, 2], [20, 1], [40, 24]]);
    expect(map.fragmentation.freeFrames).toBe(31);
    expect(map.fragmentation.runs).toBe(4);
    expect(map.fragmentation.largestRun).toBe(24);
    expect(map.fragmentation.ratio).toBeCloseTo(1 - 24 / 31, 12);
    expect(map.counts.free).toBe(sys.stats().free);
  });

  it('freeRunsOf counts cached frames as free; fragmentationOf of no run is 0', () => {
    expect(freeRunsOf('FFSCCURFBF')).toEqual([[0, 2], [3, 2], [7, 1], [9, 1]]);
    expect(freeRunsOf('SSUU')).toEqual([]);
    expect(fragmentationOf([])).toEqual({ freeFrames: 0, runs: 0, largestRun: 0, ratio: 0 });
    expect(fragmentationOf([[0, 1], [5, 3]])).toEqual({ freeFrames: 4, runs: 2, largestRun: 3, ratio: 0.25 });
  });

  it("reads another worker's cached frames, attached or not", () => {
    const sys = makeSystem({ frames: 64 });
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const f = other.allocFrame();
    const paddr = f.paddr;
    f.drop(); // into worker 2's cache
    let map = captureFrameMap(sys);
    const w2 = map.workers.find((w) => w.id === other.workerId)!;
    expect(w2.attached).toBe(true);
    expect(w2.cachedRuns).toContainEqual([at(paddr), 1]);
    expect(stateAt(map, paddr)).toBe('cached');
    expect(map.counts.cached).toBe(w2.cachedFrames);
    other.close(); // gives its cache back
    map = captureFrameMap(sys);
    expect(map.workers.map((w) => w.id)).toEqual([sys.workerId]);
    expect(stateAt(map, paddr)).toBe('free');
  });

  it('a custom allocator: free frames from its forEachFree; without one, every UNUSED frame', () => {
    class Bitmap implements GlobalFrameAllocator {
      readonly free = new Set<number>();
      alloc(n: number): Paddr | null {
        for (let s = 0; s + n <= 32; s++) {
          let ok = true;
          for (let k = s; k < s + n && ok; k++) ok = this.free.has(k);
          if (ok) {
            for (let k = s; k < s + n; k++) this.free.delete(k);
            return s * PAGE_SIZE;
          }
        }
        return null;
      }
      dealloc(paddr: Paddr, n: number): void {
        for (let k = paddr / PAGE_SIZE; k < paddr / PAGE_SIZE + n; k++) this.free.add(k);
      }
      addFreeMemory(paddr: Paddr, n: number): void {
        this.dealloc(paddr, n);
      }
      freeFrames(): number {
        return this.free.size;
      }
      forEachFree(fn: (paddr: Paddr, n: number) => void): void {
        for (const k of this.free) fn(k * PAGE_SIZE, 1);
      }
    }
    const alloc = new Bitmap();
    const sys = FrameSystem.create({ frames: 32, allocator: alloc });
    const held = sys.allocFrame();
    const raw = sys.allocator.alloc(3, 1)!;
    const map = captureFrameMap(sys);
    expect(map.allocator).toBe('custom');
    expect(map.workers).toEqual([]);
    expect(stateAt(map, held.paddr)).toBe('shared');
    expect(stateAt(map, raw)).toBe('raw');
    expect(statsOf(map)).toEqual(sys.stats());

    const blind: GlobalFrameAllocator = { alloc: (n, a) => alloc.alloc(n * a), dealloc: (p, n) => alloc.dealloc(p, n), addFreeMemory: () => {} };
    const sys2 = FrameSystem.create({ frames: 32, allocator: blind });
    alloc.free.clear();
    alloc.addFreeMemory(0, 32);
    const f = sys2.allocFrame();
    const map2 = captureFrameMap(sys2);
    expect(map2.counts).toEqual(expect.objectContaining({ free: 31, raw: 0, shared: 1 }));
    f.drop();
  });

  it('survives JSON, and parseFrameMap refuses what is not a map of this version', () => {
    const sys = makeSystem({ frames: 16 });
    const f = sys.allocFrame(MockMeta, { value: 9 });
    const map = captureFrameMap(sys);
    const back = parseFrameMap(JSON.parse(JSON.stringify(map)));
    expect(back).toEqual(map);
    const bad = (patch: object): unknown => ({ ...JSON.parse(JSON.stringify(map)), ...patch });
    expect(() => parseFrameMap(null)).toThrow(FrameMapFormatError);
    expect(() => parseFrameMap(bad({ format: 'pageframe-map/0' }))).toThrow(/format is 'pageframe-map\/0'/);
    expect(() => parseFrameMap(bad({ states: 'F'.repeat(15) }))).toThrow(/states/);
    expect(() => parseFrameMap(bad({ states: 'X'.repeat(16) }))).toThrow(/not a state letter/);
    expect(() => parseFrameMap(bad({ refCounts: [1] }))).toThrow(/refCounts/);
    expect(() => parseFrameMap(bad({ types: [{ id: 1 }] }))).toThrow(/types/);
    expect(() => parseFrameMap(bad({ freeRuns: [[1]] }))).toThrow(/freeRuns/);
    f.drop();
  });
});

