/**
 * `captureFrameMap`: reads a region into a `FrameMap` (see `format.ts`), frame by frame: each
 * slot's state, count, type, list and forgotten references, the workers' caches of free frames,
 * the linked lists, the free runs and the fragmentation of free memory.
 *
 * It only reads, through the region's census (`region/census.ts`: atomic loads of the count
 * words, no lock), so it may run at any moment in any worker, while others work: the map is a
 * snapshot, racy by nature (a frame may change state while the scan passes it, and `stats` is a
 * second scan). Taken while nothing runs, it agrees with `sys.stats()` exactly.
 */
import { typeById } from '../frame/meta-type.js';
import { SLOT_SHARED, SLOT_UNIQUE, SLOT_UNUSED, SlotReading, liveLists, readSlot } from '../region/census.js';
import { registeredCount } from '../region/registry.js';
import { isAttached } from '../region/workers.js';
import type { Region } from '../region/region.js';
import { MAX_WORKERS } from '../base/limits.js';
import { PAGE_SIZE } from '../base/units.js';
import type { FrameSystem } from '../system.js';
import {
  FRAME_MAP_FORMAT,
  STATE_CODE,
  type FrameMap,
  type FrameMapCounts,
  type FrameMapHeap,
  type FrameMapList,
  type FrameMapType,
  type FrameMapWorker,
  type FrameRun,
} from './format.js';
import { fragmentationOf, freeRunsOf } from './free-runs.js';
import { NUM_CLASSES, largeFrames, slabAllocated, slabClass } from '../region/heap.js';
import { slotWord, typeOf } from '../region/meta.js';
import { LARGE_TYPE, SLAB_TYPE } from '../heap/slab.js';

const CODE = {
  free: STATE_CODE.free.charCodeAt(0),
  cached: STATE_CODE.cached.charCodeAt(0),
  raw: STATE_CODE.raw.charCodeAt(0),
  busy: STATE_CODE.busy.charCodeAt(0),
  shared: STATE_CODE.shared.charCodeAt(0),
  unique: STATE_CODE.unique.charCodeAt(0),
};

/**
 * A snapshot of `sys`'s region, frame by frame (see `FrameMap`). JSON-serialisable: an
 * application may save `JSON.stringify(captureFrameMap(sys))` and render it later (`pageframe
 * map --input`), or render it now with `renderFrameMap`.
 *
 * With the default allocator, a frame is free if the buddy allocator marks it so or a worker's
 * cache holds it. With a custom allocator, its `forEachFree` says which frames are free (it may
 * take the allocator's own lock); without one, every UNUSED frame is shown free. A slot word that
 * is no legal count (which `checkInvariants` would report) is shown busy. It only reads: any
 * worker may take one at any moment.
 *
 * @example
 * ```ts
 * const seg = sys.allocSegment(4);
 * const map = captureFrameMap(sys);
 * console.log(map.nframes, map.counts.shared, map.states.length); // 64 4 64
 * const saved = JSON.stringify(map); // `pageframe map --input map.json --out map.html` draws it
 * seg.drop();
 * ```
 */
export function captureFrameMap(sys: FrameSystem): FrameMap {
  const r = sys._region;
  const n = sys.nframes;
  const defaultAllocator = sys._cache !== undefined;

  // Which UNUSED frames are free, apart from the buddy allocator's marks.
  const workers: FrameMapWorker[] = [];
  const cached = new Uint8Array(n);
  const cache = sys._cache;
  if (cache !== undefined) {
    for (let id = 1; id <= MAX_WORKERS; id++) {
      // A racing owner may leave a stale entry: keep only runs inside the region.
      const runs: FrameRun[] = cache.cachedRuns(id).filter(([start, k]) => start >= 0 && start + k <= n);
      let cachedFrames = 0;
      for (const [start, k] of runs) {
        cached.fill(1, start, start + k);
        cachedFrames += k;
      }
      const attached = isAttached(r, id);
      if (attached || cachedFrames > 0) workers.push({ id, attached, cachedFrames, cachedRuns: runs });
    }
  }
  let customFree: Uint8Array | undefined;
  if (!defaultAllocator && sys.allocator.forEachFree !== undefined) {
    const free = new Uint8Array(n);
    sys.allocator.forEachFree((paddr, count) => free.fill(1, paddr / PAGE_SIZE, paddr / PAGE_SIZE + count));
    customFree = free;
  }

  const ntypes = registeredCount(r);
  const byType = Array.from({ length: ntypes + 1 }, () => ({ shared: 0, unique: 0, inList: 0 }));
  const untypedId = new Uint8Array(ntypes + 1);
  const typeNames: string[] = [''];
  for (let id = 1; id <= ntypes; id++) {
    let name = `#${id}`;
    let untyped = false;
    try {
      const type = typeById(sys._region, id);
      name = type.name;
      untyped = type.untyped;
    } catch {
      // An entry being registered right now: known by its id only.
    }
    typeNames.push(name);
    untypedId[id] = untyped ? 1 : 0;
  }

  const codes = new Uint8Array(n);
  const refCounts = new Array<number>(n).fill(0);
  const typeIds = new Array<number>(n).fill(0);
  const lists = new Array<number>(n).fill(0);
  const forgotten = new Array<number>(n).fill(0);
  const counts = { free: 0, cached: 0, raw: 0, busy: 0, shared: 0, unique: 0, inList: 0, untyped: 0, forgotten: 0, forgottenRefs: 0 };
  const slot = new SlotReading();
  for (let k = 0; k < n; k++) {
    const { state, count, type } = readSlot(r, k, slot);
    if (state === SLOT_UNUSED) {
      const inBuddy = defaultAllocator ? slot.freeMark : customFree === undefined || customFree[k] === 1;
      if (inBuddy) {
        codes[k] = CODE.free;
        counts.free++;
      } else if (cached[k] === 1) {
        codes[k] = CODE.cached;
        counts.free++;
        counts.cached++;
      } else {
        codes[k] = CODE.raw;
        counts.raw++;
      }
      continue;
    }
    const known = type >= 1 && type <= ntypes;
    typeIds[k] = type >= 0 ? type : 0;
    if (state === SLOT_SHARED || state === SLOT_UNIQUE) {
      const unique = state === SLOT_UNIQUE;
      codes[k] = unique ? CODE.unique : CODE.shared;
      refCounts[k] = unique ? 1 : count;
      if (unique) counts.unique++;
      else counts.shared++;
      const list = unique ? slot.list : 0;
      if (list > 0) {
        lists[k] = list;
        counts.inList++;
      }
      if (known) {
        const t = byType[type];
        if (unique) t.unique++;
        else t.shared++;
        if (list > 0) t.inList++;
        if (untypedId[type] === 1) counts.untyped++;
      }
      const lost = slot.forgotten;
      if (lost > 0) {
        forgotten[k] = lost;
        counts.forgotten++;
        counts.forgottenRefs += lost;
      }
    } else {
      codes[k] = CODE.busy;
      counts.busy++;
    }
  }
  const types: FrameMapType[] = [];
  for (let id = 1; id <= ntypes; id++) {
    const { shared, unique, inList } = byType[id];
    types.push({ id, name: typeNames[id], untyped: untypedId[id] === 1, frames: shared + unique, shared, unique, inList });
  }

  const heap = heapOf(r, n, typeNames, codes);
  const states = lettersOf(codes);
  const freeRuns = freeRunsOf(states);
  return {
    format: FRAME_MAP_FORMAT,
    capturedAt: new Date().toISOString(),
    capturedBy: sys.workerId,
    nframes: n,
    ...(sys.maxFrames > n ? { maxFrames: sys.maxFrames } : {}),
    pageSize: PAGE_SIZE,
    checked: sys.checked,
    allocator: defaultAllocator ? 'default' : 'custom',
    states,
    refCounts,
    typeIds,
    lists,
    forgotten,
    types,
    linkedLists: linkedListsOf(r, typeNames),
    workers,
    freeRuns,
    fragmentation: fragmentationOf(freeRuns),
    counts: counts satisfies FrameMapCounts,
    stats: sys.stats(),
    ...(heap !== undefined ? { heap } : {}),
  };
}

/** The heap's slabs (slot size, fill) and large blocks among the held frames, if any. */
function heapOf(r: Region, n: number, typeNames: readonly string[], codes: Uint8Array): FrameMapHeap | undefined {
  const slabType = typeNames.indexOf(SLAB_TYPE);
  const largeType = typeNames.indexOf(LARGE_TYPE);
  if (slabType < 1 && largeType < 1) return undefined;
  const slabs: [number, number, number, number][] = [];
  const large: FrameRun[] = [];
  for (let k = 0; k < n; k++) {
    if (codes[k] !== CODE.unique && codes[k] !== CODE.shared) continue;
    const w = slotWord(r, k);
    const type = typeOf(r, w);
    if (type === slabType && type > 0) {
      const c = slabClass(r, w);
      if (c >= 0 && c < NUM_CLASSES) slabs.push([k, 8 << c, slabAllocated(r, w), 512 >> c]);
    } else if (type === largeType && type > 0 && largeFrames(r, w) > 0) {
      large.push([k, largeFrames(r, w)]);
    }
  }
  return { slabs, large };
}

/** The linked lists alive now, with their types' names. */
function linkedListsOf(r: Region, typeNames: readonly string[]): FrameMapList[] {
  return liveLists(r).map(({ id, size, type }) => ({ id, size, type: type > 0 ? (typeNames[type] ?? `#${type}`) : null }));
}

/** The letters of `codes` as a string, a chunk at a time (no argument-count limit). */
function lettersOf(codes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < codes.length; i += 8192) s += String.fromCharCode(...codes.subarray(i, i + 8192));
  return s;
}
