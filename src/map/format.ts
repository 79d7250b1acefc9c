/**
 * The frame-map format (`pageframe-map/1`): a plain, JSON-serialisable snapshot of a region,
 * frame by frame, as `captureFrameMap` makes it and `renderFrameMap` draws it. This file owns
 * the shape of that object, the one-letter state codes, and `parseFrameMap`, which checks that a
 * value read back from JSON is a map of this version before anything draws it.
 *
 * Per-frame data is kept in parallel arrays (one letter per frame in `states`, one number per
 * frame in the others) rather than one object per frame, so a map of a large region stays a few
 * bytes a frame in JSON.
 */
import type { FrameStats } from '../system.js';

/**
 * The format tag of this version of the map. A reader refuses any other.
 *
 * @example
 * ```ts
 * const map = captureFrameMap(sys);
 * console.log(map.format === FRAME_MAP_FORMAT, FRAME_MAP_FORMAT); // true pageframe-map/1
 * ```
 */
export const FRAME_MAP_FORMAT = 'pageframe-map/1';

/**
 * The state of one frame in a map.
 * - `free`: free in the allocator (its shared buddy lists).
 * - `cached`: free in the allocator, in one worker's cache of free frames.
 * - `raw`: UNUSED but not free: handed out raw (`sys.allocator.alloc`) or left by
 *   `resetAsUnused`; it belongs to whoever holds the address.
 * - `busy`: count 0: being set up or torn down, or waiting on the deferred-drop stack.
 * - `shared`: held through shared handles (count 1..REF_COUNT_MAX).
 * - `unique`: held by one `UniqueFrame`, or by a linked list.
 */
export type FrameState = 'free' | 'cached' | 'raw' | 'busy' | 'shared' | 'unique';

/** The letter of each state in `FrameMap.states`. */
export const STATE_CODE: Readonly<Record<FrameState, string>> = {
  free: 'F',
  cached: 'C',
  raw: 'R',
  busy: 'B',
  shared: 'S',
  unique: 'U',
};

/** Every state, in the order a legend lists them (held first, free last). */
export const FRAME_STATES: readonly FrameState[] = ['shared', 'unique', 'busy', 'raw', 'cached', 'free'];

const STATE_OF_CODE: Readonly<Record<string, FrameState>> = Object.fromEntries(
  FRAME_STATES.map((s) => [STATE_CODE[s], s]),
);

/** The state a letter of `FrameMap.states` stands for (undefined for any other letter). */
export function stateOfCode(code: string): FrameState | undefined {
  return STATE_OF_CODE[code];
}

/** A run of consecutive frames: `[first frame index, number of frames]`. */
export type FrameRun = [start: number, length: number];

/** A metadata type registered in the region. */
export interface FrameMapType {
  /** Its id in the region's registry (1..MAX_TYPES): what `FrameMap.typeIds` holds. */
  readonly id: number;
  /** The name given to `defineMeta` (any string: escape it before display). */
  readonly name: string;
  /** Whether frames of this type expose their bytes (`untyped: true`). */
  readonly untyped: boolean;
  /** Frames of this type held now: shared + unique. */
  readonly frames: number;
  readonly shared: number;
  readonly unique: number;
  /** Of the unique ones, those in a linked list. */
  readonly inList: number;
}

/** A linked list alive in the region. */
export interface FrameMapList {
  /** Its id: what `FrameMap.lists` holds for its frames. */
  readonly id: number;
  /** Frames in it, as its head says. */
  readonly size: number;
  /** The name of its metadata type (null if the list has no type yet). */
  readonly type: string | null;
}

/** A worker of the region's worker table. Listed if attached, or if it has cached frames. */
export interface FrameMapWorker {
  readonly id: number;
  /** Whether it is attached now (a worker that exited without `close` or reclaim is not). */
  readonly attached: boolean;
  /** Free frames in its caches. */
  readonly cachedFrames: number;
  /** Its cached runs of 1..4 frames. */
  readonly cachedRuns: FrameRun[];
}

/**
 * How free memory is laid out. A run is a maximal stretch of consecutive frames free in the
 * allocator (in the buddy lists or in a worker's cache: caches are given back before an
 * allocation fails, so their frames count as free here).
 */
export interface FrameMapFragmentation {
  /** Frames free in the allocator. */
  readonly freeFrames: number;
  /** Number of free runs. */
  readonly runs: number;
  /** Frames in the largest free run: the largest segment that can be had now. */
  readonly largestRun: number;
  /**
   * `1 − largestRun / freeFrames` (0 when nothing is free): the share of free memory that lies
   * outside the largest run. 0 means all free memory is one contiguous run; near 1 means it is
   * scattered in small pieces, so a large segment may fail although many frames are free.
   */
  readonly ratio: number;
}

/** Frames per state, and marks, counted over the map (they add up to `nframes`). */
export interface FrameMapCounts {
  readonly free: number;
  /** Of the free frames, those in a worker's cache. */
  readonly cached: number;
  readonly raw: number;
  readonly busy: number;
  readonly shared: number;
  readonly unique: number;
  /** Unique frames in a linked list. */
  readonly inList: number;
  /** Held frames of untyped types (byte access). */
  readonly untyped: number;
  /** Frames with at least one forgotten reference (checked mode). */
  readonly forgotten: number;
  /** Forgotten references over all frames (checked mode). */
  readonly forgottenRefs: number;
}

/**
 * The heap's frames (`sys.heap`): each slab with its slot size and fill, and each large block.
 * Absent in maps of regions whose heap was never used, and in maps saved before the heap.
 */
export interface FrameMapHeap {
  /** Per slab: its frame, its slot size in bytes, the slots handed out of it (in use or in a
   *  worker's cache), and its slots in all. */
  readonly slabs: [frame: number, slotSize: number, allocated: number, slots: number][];
  /** Per large block: its first frame and its length in frames. */
  readonly large: FrameRun[];
}

/** A snapshot of a region, frame by frame. */
export interface FrameMap {
  readonly format: typeof FRAME_MAP_FORMAT;
  /** When it was captured (ISO 8601). */
  readonly capturedAt: string;
  /** The worker that captured it. */
  readonly capturedBy: number;
  /** Frames in the region; frame `i` is at paddr `i * pageSize`. */
  readonly nframes: number;
  /** The most frames the region may grow to (`create({ maxFrames })`): frames `nframes..maxFrames`
   *  are reserved (their metadata room exists) but not in the memory yet. Absent in maps of
   *  regions that cannot grow, and in maps saved before growth. */
  readonly maxFrames?: number;
  readonly pageSize: number;
  /** Whether the region runs in checked mode (only then are forgotten references recorded). */
  readonly checked: boolean;
  /** `default`: the shared buddy allocator with per-worker caches; `custom`: another one, whose
   *  free frames are known only if it has `forEachFree` (else every UNUSED frame counts free). */
  readonly allocator: 'default' | 'custom';
  /** One letter per frame (see `STATE_CODE`). */
  readonly states: string;
  /** Per frame: references held (the count when shared, 1 when unique, 0 otherwise). */
  readonly refCounts: number[];
  /** Per frame: the metadata type id (see `types`), 0 when not held. */
  readonly typeIds: number[];
  /** Per frame: the id of the linked list holding it (see `lists`), 0 when none. */
  readonly lists: number[];
  /** Per frame: forgotten references (`intoRaw` in checked mode), 0 otherwise. */
  readonly forgotten: number[];
  /** Registered metadata types, by id. */
  readonly types: FrameMapType[];
  /** Linked lists alive in the region. */
  readonly linkedLists: FrameMapList[];
  /** Workers attached or holding cached frames (always empty with a custom allocator). */
  readonly workers: FrameMapWorker[];
  /** Free runs in address order. */
  readonly freeRuns: FrameRun[];
  readonly fragmentation: FrameMapFragmentation;
  readonly counts: FrameMapCounts;
  /** `sys.stats()` at capture (it scans the region again: under load it may differ slightly). */
  readonly stats: FrameStats;
  /** The heap's slabs and large blocks, when the heap is in use. */
  readonly heap?: FrameMapHeap;
}

/**
 * Thrown by `parseFrameMap` (and so by `renderFrameMap`) for a value that is not a frame map of
 * this version; the message says what is wrong.
 *
 * @example
 * ```ts
 * try {
 *   parseFrameMap({ format: 'pageframe-map/0' });
 * } catch (e) {
 *   if (!(e instanceof FrameMapFormatError)) throw e;
 *   console.log(e.message); // "not a pageframe-map/1 frame map: its format is 'pageframe-map/0'"
 * }
 * ```
 */
export class FrameMapFormatError extends Error {
  /**
   * Made by `parseFrameMap`; its `name` is `'FrameMapFormatError'`.
   *
   * @example
   * ```ts
   * const e = new FrameMapFormatError('not a frame map');
   * console.log(e.name, e.message); // FrameMapFormatError not a frame map
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = 'FrameMapFormatError';
  }
}

/**
 * Checks that `value` (e.g. `JSON.parse` of a saved map) is a `pageframe-map/1` map whose
 * per-frame arrays agree with `nframes`, and returns it typed. Throws `FrameMapFormatError`
 * saying what is wrong.
 *
 * @example
 * ```ts
 * const saved = JSON.stringify(captureFrameMap(sys)); // e.g. written to a file
 * const map = parseFrameMap(JSON.parse(saved)); // checked, and typed FrameMap
 * console.log(map.nframes, map.counts.free); // 64 64
 * ```
 */
export function parseFrameMap(value: unknown): FrameMap {
  const fail = (why: string): never => {
    throw new FrameMapFormatError(`not a ${FRAME_MAP_FORMAT} frame map: ${why}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('not an object');
  const m = value as Record<string, unknown>;
  if (m.format !== FRAME_MAP_FORMAT) {
    fail(typeof m.format === 'string' ? `its format is '${m.format}'` : 'it has no format field');
  }
  const n = m.nframes;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) fail('nframes is not a positive integer');
  const nframes = n as number;
  if (m.maxFrames !== undefined && (typeof m.maxFrames !== 'number' || !Number.isInteger(m.maxFrames) || m.maxFrames < nframes)) {
    fail('maxFrames is not an integer >= nframes');
  }
  if (typeof m.pageSize !== 'number' || !(m.pageSize > 0)) fail('pageSize is not a positive number');
  if (typeof m.capturedAt !== 'string') fail('capturedAt is not a string');
  if (typeof m.checked !== 'boolean') fail('checked is not a boolean');
  if (typeof m.states !== 'string' || m.states.length !== nframes) fail(`states is not a string of ${nframes} letters`);
  for (let k = 0; k < nframes; k++) {
    if (stateOfCode((m.states as string)[k]) === undefined) fail(`states[${k}] is '${(m.states as string)[k]}', not a state letter`);
  }
  for (const key of ['refCounts', 'typeIds', 'lists', 'forgotten'] as const) {
    const a = m[key];
    if (!Array.isArray(a) || a.length !== nframes) fail(`${key} is not an array of ${nframes} numbers`);
    for (const x of a as unknown[]) if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) fail(`${key} holds ${String(x)}`);
  }
  if (!Array.isArray(m.types)) fail('types is not an array');
  for (const t of m.types as unknown[]) {
    const o = t as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object' || typeof o.id !== 'number' || typeof o.name !== 'string' || typeof o.untyped !== 'boolean') {
      fail('types holds an entry without id, name and untyped');
    }
  }
  for (const key of ['linkedLists', 'workers', 'freeRuns'] as const) if (!Array.isArray(m[key])) fail(`${key} is not an array`);
  for (const r of m.freeRuns as unknown[]) {
    if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => Number.isInteger(x))) fail('freeRuns holds an entry that is not [start, length]');
  }
  for (const key of ['fragmentation', 'counts', 'stats'] as const) {
    if (m[key] === null || typeof m[key] !== 'object') fail(`${key} is not an object`);
  }
  return value as FrameMap;
}
