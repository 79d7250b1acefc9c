/**
 * The header's identity words: magic, version and the layout a region was made with, written
 * once by `create` (the magic last) and read by every `attach` to validate the region.
 *
 *   words: magic | version | nframes | flags | header bytes | meta offset | frame offset |
 *          slot bytes | page size | region id (two words, random: what tells a thread that two
 *          handles name the same region, `regionId`) ... | maxFrames (word 14) | autoGrow (15)
 *
 * Who writes: only `initRegion`, before any other worker can know the region; but `nframes`,
 * which a grow raises (`setCommittedFrames`, under the allocator lock: region/grow.ts). It also sets what
 * a fresh region holds elsewhere (every slot UNUSED, worker 1's record attached), the one place
 * another file's words are written, as nobody can see them yet. ORDER: the magic is stored last,
 * with `Atomics.store`; attach reads it first, with `Atomics.load`, so a worker that sees it sees
 * the rest.
 */
import { FrameSystemError } from '../base/errors.js';
import { MAX_FRAMES, META_SLOT_SIZE } from '../base/limits.js';
import { PAGE_SIZE } from '../base/units.js';
import { HEADER_BYTES, H_WORKERS, LAYOUT_VERSION, computeLayout, type Layout } from './geometry.js';
import { RC_UNUSED, SLOT_WORDS } from './meta.js';
import type { Region } from './region.js';
import { currentBuffer, type WasmMemory } from '../shm/views.js';
import { WORKER_ATTACHED, W_GEN, W_STATE } from './workers.js';

/** "PFRM" in little-endian. */
const MAGIC = 0x4d524650;
const H_MAGIC = 0;
export const H_VERSION = 1;
const H_NFRAMES = 2;
const H_FLAGS = 3;
const H_HEADER_BYTES = 4;
const H_META_OFFSET = 5; // bytes from the region start
const H_FRAME_OFFSET = 6; // bytes from the region start
const H_SLOT_BYTES = 7; // META_SLOT_SIZE, recorded so attach can check it
const H_PAGE_SIZE = 8;
/** The region's id: two random words written by `create` (they held counters no version read). */
export const H_REGION_ID = 9;
/** The most frames the region may grow to (its metadata region has a slot for each). */
const H_MAX_FRAMES = 14;
/** `autoGrow`: 0 (off), -1 (true: by what is needed and at least 1/8), or n > 0 (by n frames). */
const H_AUTO_GROW = 15;

/** Header flags. */
const FLAG_CHECKED = 1;

/**
 * Shared memory a region can live in: a `SharedArrayBuffer`, or a shared `WebAssembly.Memory`
 * (then a WebAssembly module can read the frames in place, and pageframe's atomics run as
 * WebAssembly).
 *
 * @example
 * ```ts
 * const memory: SharedMemory = new WebAssembly.Memory({ initial: 1, maximum: 256, shared: true });
 * const sys = FrameSystem.create({ frames: 16, memory }); // grows the memory to fit
 * console.log(sys.handle.memory === memory); // true
 * ```
 */
export type SharedMemory = SharedArrayBuffer | WasmMemory;

/** What another worker needs to attach: structured-cloneable, send it with `postMessage`. */
export interface FrameSystemHandle {
  /** The shared memory the region lives in. */
  readonly memory: SharedMemory;
  /** The byte offset of the region in it. */
  readonly offset: number;
}

export function sharedArrayBufferClass(): typeof SharedArrayBuffer {
  if (typeof SharedArrayBuffer === 'undefined') {
    throw new FrameSystemError(
      'BadMemory',
      'SharedArrayBuffer is not available: in a browser, serve the page with the headers ' +
        "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp'",
    );
  }
  return SharedArrayBuffer;
}

/** The SharedArrayBuffer behind `memory`, at least `needed` bytes long (growing a wasm memory). */
export function bufferOf(memory: SharedMemory, needed: number, grow: boolean): SharedArrayBuffer {
  const SAB = sharedArrayBufferClass();
  if (memory instanceof SAB) {
    if (memory.byteLength < needed && grow && isGrowable(memory) && memory.maxByteLength >= needed) memory.grow(needed);
    if (memory.byteLength < needed) {
      throw new FrameSystemError('BadMemory', `the memory has ${memory.byteLength} bytes; the region needs ${needed}`);
    }
    return memory;
  }
  if (typeof WebAssembly !== 'undefined' && memory instanceof WebAssembly.Memory) {
    const current: unknown = memory.buffer;
    if (!(current instanceof SAB)) {
      throw new FrameSystemError('BadMemory', 'the WebAssembly.Memory is not shared (create it with shared: true)');
    }
    const have = current.byteLength;
    if (have < needed && grow) {
      try {
        // In pages, from the memory's own size now (`grow(0)`), not from a buffer this thread took
        // before another thread grew it: a grow by too much could pass the memory's maximum.
        const pages = memory.grow(0);
        const want = Math.ceil(needed / 65536);
        if (want > pages) memory.grow(want - pages);
      } catch {
        throw new FrameSystemError('BadMemory', `the WebAssembly.Memory cannot grow to the ${needed} bytes the region needs`);
      }
    }
    const buffer = memory.buffer as unknown as SharedArrayBuffer;
    if (buffer.byteLength < needed) {
      throw new FrameSystemError('BadMemory', `the memory has ${buffer.byteLength} bytes; the region needs ${needed}`);
    }
    return buffer;
  }
  throw new FrameSystemError('BadMemory', 'memory must be a SharedArrayBuffer or a shared WebAssembly.Memory');
}

/** A growable SharedArrayBuffer (`new SharedArrayBuffer(n, { maxByteLength })`, ES2024). */
interface GrowableSAB extends SharedArrayBuffer {
  readonly growable: boolean;
  readonly maxByteLength: number;
  grow(bytes: number): void;
}

/** Whether `b` is a growable SharedArrayBuffer. */
export function isGrowable(b: SharedArrayBuffer): b is GrowableSAB {
  return (b as Partial<GrowableSAB>).growable === true;
}

/**
 * Whether `memory` may become `needed` bytes long: a growable SharedArrayBuffer up to its
 * `maxByteLength`; a shared WebAssembly.Memory, whose maximum JavaScript cannot read, is taken at
 * its word (a grow past it fails then, with `CannotGrow`).
 */
export function mayGrowTo(memory: SharedMemory, needed: number): boolean {
  const SAB = sharedArrayBufferClass();
  if (memory instanceof SAB) return memory.byteLength >= needed || (isGrowable(memory) && memory.maxByteLength >= needed);
  return true;
}

/**
 * Makes `memory` at least `needed` bytes long (a grow of the region): false if it cannot be.
 * The memory is shared state: every worker's next look at it (`memory.buffer`, `byteLength`)
 * sees the new length.
 */
export function growMemory(memory: SharedMemory, needed: number): boolean {
  try {
    bufferOf(memory, needed, true);
    return true;
  } catch {
    return false;
  }
}


/** Writes a fresh header and marks every slot UNUSED (for maxFrames); the magic goes last. */
export function initRegion(buffer: SharedArrayBuffer, offset: number, layout: Layout, checked: boolean, autoGrow = 0): void {
  const i32 = new Int32Array(buffer, offset, layout.frameOffset >> 2);
  Atomics.store(i32, H_MAGIC, 0);
  i32.fill(0, 1);
  for (let k = 0; k < layout.maxFrames; k++) i32[(layout.metaOffset >> 2) + k * SLOT_WORDS] = RC_UNUSED;
  i32[H_VERSION] = LAYOUT_VERSION;
  i32[H_NFRAMES] = layout.nframes;
  i32[H_MAX_FRAMES] = layout.maxFrames;
  i32[H_AUTO_GROW] = autoGrow;
  i32[H_FLAGS] = checked ? FLAG_CHECKED : 0;
  i32[H_HEADER_BYTES] = HEADER_BYTES;
  i32[H_META_OFFSET] = layout.metaOffset;
  i32[H_FRAME_OFFSET] = layout.frameOffset;
  i32[H_SLOT_BYTES] = META_SLOT_SIZE;
  i32[H_PAGE_SIZE] = PAGE_SIZE;
  const id = new Int32Array(2);
  globalThis.crypto.getRandomValues(id);
  i32[H_REGION_ID] = id[0] | 1; // never 0
  i32[H_REGION_ID + 1] = id[1];
  i32[H_WORKERS + W_STATE] = WORKER_ATTACHED; // the creator is worker 1, generation 1
  i32[H_WORKERS + W_GEN] = 1;
  // ORDER: everything above is written before the magic; attach reads the magic first.
  Atomics.store(i32, H_MAGIC, MAGIC);
}

/**
 * The region's id (`create` draws it at random), as a string: two handles with the same id name
 * the same region (a copy of its bytes elsewhere would too, but nobody copies a live region). Reads
 * a header `readHeader` validated; written once before the magic, so a plain read.
 */
export function regionId(buffer: SharedArrayBuffer, offset: number): string {
  const head = new Int32Array(buffer, offset, HEADER_BYTES >> 2);
  return `${head[H_REGION_ID] >>> 0}.${head[H_REGION_ID + 1] >>> 0}`;
}

/**
 * Validates the header of the region at `offset` of `memory` (what `attach` does first):
 * `FrameSystemError` `BadMemory` for memory that is not shared, `BadHeader` for a missing or
 * corrupt header, `Version` for another layout version. Returns the region's buffer, layout and
 * checked flag. Only reads.
 */
export function readHeader(memory: SharedMemory, offset: number): { buffer: SharedArrayBuffer; layout: Layout; checked: boolean } {
  const buffer = bufferOf(memory, offset + HEADER_BYTES, false);
  const head = new Int32Array(buffer, offset, HEADER_BYTES >> 2);
  if (Atomics.load(head, H_MAGIC) !== MAGIC) {
    throw new FrameSystemError('BadHeader', `no pageframe region at offset ${offset}`);
  }
  if (head[H_VERSION] !== LAYOUT_VERSION) {
    throw new FrameSystemError('Version', `the region has layout version ${head[H_VERSION]}; this pageframe reads ${LAYOUT_VERSION}`);
  }
  const nframes = Atomics.load(head, H_NFRAMES);
  const maxFrames = head[H_MAX_FRAMES];
  const layout = nframes >= 1 && nframes <= maxFrames && maxFrames <= MAX_FRAMES ? computeLayout(nframes, offset, maxFrames) : undefined;
  if (
    layout === undefined ||
    head[H_HEADER_BYTES] !== HEADER_BYTES ||
    head[H_META_OFFSET] !== layout.metaOffset ||
    head[H_FRAME_OFFSET] !== layout.frameOffset ||
    head[H_SLOT_BYTES] !== META_SLOT_SIZE ||
    head[H_PAGE_SIZE] !== PAGE_SIZE
  ) {
    throw new FrameSystemError('BadHeader', `the header at offset ${offset} is corrupt`);
  }
  // ORDER: the count was read first (a grow raises it only once the memory is long enough), and
  // the memory is looked at again now: a buffer taken before a grow elsewhere may be shorter.
  const current = currentBuffer(memory);
  if (current.byteLength < offset + layout.totalBytes) {
    throw new FrameSystemError('BadHeader', `the header says ${layout.totalBytes} bytes but the memory is shorter`);
  }
  return { buffer: current, layout, checked: (head[H_FLAGS] & FLAG_CHECKED) !== 0 };
}

/** Frames the region has now (raised by a grow in any worker; never lowered). */
export function committedFrames(r: Region): number {
  return Atomics.load(r.i32, H_NFRAMES);
}

/** The most frames the region may grow to. Written once by `initRegion`: a plain read. */
export function maxFramesOf(r: Region): number {
  return r.i32[H_MAX_FRAMES];
}

/** The region's `autoGrow` (see H_AUTO_GROW). Written once by `initRegion`: a plain read. */
export function autoGrowOf(r: Region): number {
  return r.i32[H_AUTO_GROW];
}

/**
 * Raises the region's frame count to `nframes` (a grow, region/grow.ts). OWNER: the allocator
 * lock's holder. ORDER: after the memory grew to hold them, before any of the new frames is
 * handed out (they enter the free lists after): a worker given a frame past the end it knew
 * reads this word (`syncFrames`), and then the memory is long enough.
 */
export function setCommittedFrames(r: Region, nframes: number): void {
  Atomics.store(r.i32, H_NFRAMES, nframes);
}

/** Makes sure this worker's views reach byte `end` of the frame region (a frame another worker's
 *  grow added): `syncFrames` when `end` is past what they cover. */
export function reachFrames(r: Region, end: number): void {
  if (end > r.maxPaddr) syncFrames(r);
}

/**
 * Brings this worker's view of the region up to the frames it has now, if another worker grew
 * it (`Region.resize`); whether it did. One load when nothing changed.
 */
export function syncFrames(r: Region): boolean {
  const n = Atomics.load(r.i32, H_NFRAMES);
  if (n <= r.nframes) return false;
  r.resize(n);
  return true;
}
