/**
 * The wording of a frame-map picture, shared by the SVG and the HTML page: state labels, the
 * totals line, the fragmentation sentence, and the description of a frame or of an aggregated
 * cell (the tooltips). Plain text: the callers escape it.
 */
import type { FrameMap, FrameMapType, FrameState } from './format.js';
import type { CellContents } from './grid.js';

/** What each state is called in a legend. */
export const STATE_LABEL: Readonly<Record<FrameState, string>> = {
  shared: 'shared (type colour; darker = more references)',
  unique: 'unique (type colour, dark border)',
  busy: 'busy (being set up or torn down, or a deferred drop)',
  raw:
    'raw: unused but not free. Taken from the allocator and not (yet) claimed by a handle, or on its way back to it after a last drop: ' +
    'usually another worker in the middle of an allocation or a drop when the map was captured; otherwise owned by whoever holds the address (allocator.alloc, resetAsUnused)',
  cached: 'free, in a worker\u2019s cache',
  free: 'free in the allocator',
};

/** Short names of the states, for tooltips. */
const STATE_WORD: Readonly<Record<FrameState, string>> = {
  shared: 'shared',
  unique: 'unique',
  busy: 'busy',
  raw: 'raw',
  cached: 'cached free',
  free: 'free',
};

/** The map's types by id. */
export function typesById(map: FrameMap): Map<number, FrameMapType> {
  return new Map(map.types.map((t) => [t.id, t]));
}

/** The name of type `id` (`#id` if the map does not know it). */
export function typeName(types: ReadonlyMap<number, FrameMapType>, id: number): string {
  return types.get(id)?.name ?? `#${id}`;
}

/** A byte count in the largest binary unit that keeps it >= 1: `4 MiB`, `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** `part` as a percentage of `whole`, one decimal. */
export function percent(part: number, whole: number): string {
  return `${whole === 0 ? '0' : ((100 * part) / whole).toFixed(1)}%`;
}

/** A paddr in hex, padded to the width of the region's largest address. */
export function hexPaddr(map: FrameMap, paddr: number): string {
  const digits = Math.max(4, (map.nframes * map.pageSize - 1).toString(16).length);
  return `0x${paddr.toString(16).padStart(digits, '0')}`;
}

/** `1024 frames (4 MiB): 312 used, 712 free (69.5%)`. */
export function totalsLine(map: FrameMap): string {
  const used = map.nframes - map.counts.free;
  return (
    `${map.nframes} frames (${formatBytes(map.nframes * map.pageSize)}): ${used} used, ` +
    `${map.counts.free} free (${percent(map.counts.free, map.nframes)})`
  );
}

/** Where and when the map was taken, and in which mode. */
export function captureLine(map: FrameMap): string {
  const mode = map.checked ? 'checked mode' : 'unchecked mode';
  const alloc = map.allocator === 'default' ? 'buddy allocator with per-worker caches' : 'custom allocator';
  const growth =
    map.maxFrames !== undefined && map.maxFrames > map.nframes
      ? ` \u00b7 may grow to ${map.maxFrames} frames (${map.maxFrames - map.nframes} reserved, not in the memory yet)`
      : '';
  return `captured ${map.capturedAt} by worker ${map.capturedBy} \u00b7 ${mode} \u00b7 ${alloc}${growth} \u00b7 ${map.format}`;
}

/** The fragmentation numbers in one sentence. */
export function fragmentationLine(map: FrameMap): string {
  const f = map.fragmentation;
  if (f.freeFrames === 0) return 'No free memory.';
  return (
    `${f.freeFrames} free frames in ${f.runs} run${f.runs === 1 ? '' : 's'}; ` +
    `largest run ${f.largestRun} frames (${percent(f.largestRun, f.freeFrames)} of free); ` +
    `fragmentation ${f.ratio.toFixed(2)}`
  );
}

/** What the fragmentation ratio means, for a caption. */
export const FRAGMENTATION_MEANING =
  'fragmentation = 1 \u2212 largest run / free frames: 0 when all free memory is one run, ' +
  'near 1 when it is scattered (a large segment may fail although frames are free)';

/** The tooltip of frame `k`: address, state, type, count, list, forgotten references. */
export function describeFrame(map: FrameMap, types: ReadonlyMap<number, FrameMapType>, k: number, state: FrameState): string {
  let s = `${hexPaddr(map, k * map.pageSize)} (frame ${k}): ${STATE_WORD[state]}`;
  if (state === 'shared' || state === 'unique') {
    const type = types.get(map.typeIds[k]);
    s += ` \u00b7 ${typeName(types, map.typeIds[k])}${type?.untyped === true ? ' (untyped)' : ''}`;
    if (state === 'shared') s += ` \u00b7 ${map.refCounts[k]} reference${map.refCounts[k] === 1 ? '' : 's'}`;
    if (map.lists[k] > 0) s += ` \u00b7 in linked list ${map.lists[k]}`;
  } else if (state === 'busy' && map.typeIds[k] > 0) {
    s += ` \u00b7 ${typeName(types, map.typeIds[k])}`;
  }
  if (map.forgotten[k] > 0) s += ` \u00b7 ${map.forgotten[k]} forgotten (intoRaw)`;
  const heap = heapFrames(map).get(k);
  if (heap !== undefined) s += ` \u00b7 ${heap}`;
  return s;
}

/** The heap's words for each of its frames (slab fill, large block), per map, made once. */
const heapWords = new WeakMap<FrameMap, Map<number, string>>();

function heapFrames(map: FrameMap): Map<number, string> {
  let out = heapWords.get(map);
  if (out === undefined) {
    out = new Map();
    for (const [k, size, allocated, slots] of map.heap?.slabs ?? []) out.set(k, `heap slab of ${size}-byte slots, ${allocated} of ${slots} handed out`);
    for (const [k, n] of map.heap?.large ?? []) out.set(k, `heap block of ${n} frame${n === 1 ? '' : 's'}`);
    heapWords.set(map, out);
  }
  return out;
}

/** One line on the heap: slabs per slot size with their fill, and large blocks ('' without a heap). */
export function heapLine(map: FrameMap): string {
  const heap = map.heap;
  if (heap === undefined || (heap.slabs.length === 0 && heap.large.length === 0)) return '';
  const bySize = new Map<number, { slabs: number; allocated: number; slots: number }>();
  for (const [, size, allocated, slots] of heap.slabs) {
    const e = bySize.get(size) ?? { slabs: 0, allocated: 0, slots: 0 };
    e.slabs++;
    e.allocated += allocated;
    e.slots += slots;
    bySize.set(size, e);
  }
  const parts = [...bySize.entries()].sort((a, b) => a[0] - b[0]).map(([size, e]) => `${size} B: ${e.slabs} slab${e.slabs === 1 ? '' : 's'}, ${percent(e.allocated, e.slots)} full`);
  const frames = heap.large.reduce((t, [, n]) => t + n, 0);
  return `heap: ${heap.slabs.length} slab${heap.slabs.length === 1 ? '' : 's'}${parts.length > 0 ? ` (${parts.join('; ')})` : ''}, ${heap.large.length} large block${heap.large.length === 1 ? '' : 's'} (${frames} frame${frames === 1 ? '' : 's'})`;
}

/** The tooltip of an aggregated cell: its address range and its frames by kind. */
export function describeCell(map: FrameMap, types: ReadonlyMap<number, FrameMapType>, c: CellContents): string {
  const last = c.first + c.count - 1;
  const range = `${hexPaddr(map, c.first * map.pageSize)}\u2013${hexPaddr(map, (last + 1) * map.pageSize - 1)}`;
  const parts = c.parts.map((p) =>
    p.state === 'shared' || p.state === 'unique' ? `${p.frames} ${typeName(types, p.type)} (${p.state})` : `${p.frames} ${STATE_WORD[p.state]}`,
  );
  let s = `${range} (frames ${c.first}\u2013${last}): ${parts.join(', ')}`;
  if (c.inList > 0) s += ` \u00b7 ${c.inList} in linked lists`;
  if (c.forgotten > 0) s += ` \u00b7 ${c.forgottenRefs} forgotten reference${c.forgottenRefs === 1 ? '' : 's'}`;
  return s;
}
