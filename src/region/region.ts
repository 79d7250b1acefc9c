/**
 * `Region`: one worker's view of a region of shared memory, and everything the protocol needs
 * of it: the typed views and atomics, the WebAssembly fast path when there is one, where the
 * metadata slots and the frames begin, this worker's id, lock token and record, and whether the
 * region runs in checked mode. Every function of `region/` takes one; `FrameSystem` makes it at
 * `create` / `attach`, and the handles reach it through their context.
 *
 * It names no word itself: the words are the files' of this folder (see `geometry.ts`).
 */
import { PAGE_SIZE } from '../base/units.js';
import { regionAtomics, type RegionAtomics } from '../shm/atomics.js';
import { currentBuffer, makeViews, type MemoryViews, type WasmMemory } from '../shm/views.js';
import { withFrames, type Layout } from './geometry.js';


/**
 * The WebAssembly twin of the commonest protocol steps, one frame through this worker's cache
 * (`fast-path.ts` assembles it; each member names the JavaScript steps it stands for there).
 */
export interface FastPath {
  /** The index of a frame popped from the 1-frame cache (`popOne`), claimed, with type `typeId`; -1 if the cache holds none. */
  take(typeId: number): number;
  /** Publishes the claimed frame `index` with count `value` (1 or UNIQUE); ends the journal. */
  publish(index: number, value: number): void;
  /** `take` then `publish` with count `value`, in one call (nothing to write in between). */
  takePublished(typeId: number, value: number): number;
  /** A raw frame popped from the 1-frame cache (`popOne` to UNUSED), left journaled; -1 if none. */
  popRaw(): number;
  /** `giveBackOne` of frame `index` on the 1-frame cache: a `GIVE*` answer. */
  giveRaw(index: number): number;
  /** Drops a shared reference to the slot at word `w`; a `DROP_*` status. */
  drop(w: number): number;
  /** Claims `n` slots from word `w` with type `typeId` (as `claimRange`); answers `n`, or the position of a slot that was not UNUSED (the ones before it unclaimed again). */
  claimRun(w: number, n: number, typeId: number): number;
  /** Publishes `n` claimed slots from word `w` with count `value`. */
  publishRun(w: number, n: number, value: number): void;
  /** Drops a reference to each of `n` frames from word `w` (see `dropRun` in the module); answers `(k << 2) | code`. */
  dropRun(w: number, n: number): number;
  /** The buddy allocator's marks on `n` slots from word `w` leaving the free lists (owner: this worker). */
  markTaken(w: number, n: number): void;
  /** The buddy allocator's free marks on `n` slots from word `w`. */
  markFree(w: number, n: number): void;
}

/** One worker's view of a region (see the module). */
export class Region {
  /** The region's typed views, all from its first byte, to the end of the frames this worker
   *  knows of (`resize` makes new ones when the region grew; the old ones stay valid). */
  mem: MemoryViews;
  /** `mem.i32`, the view of every protocol word. */
  i32: Int32Array;
  /** The atomic primitives and zeroing of the hot paths (WebAssembly or JS). */
  at: RegionAtomics;
  /**
   * The WebAssembly twin of the commonest steps (`fast-path.ts`), when this worker uses it
   * (the default allocator with caches, a shared WebAssembly.Memory); the
   * functions of `meta.ts` and the allocator choose it themselves. Gone at `close`.
   */
  fast: FastPath | undefined = undefined;
  /** The count word of a frame cached by this worker on its 1-frame stack (meta.ts
   *  `cachedHead(workerId, 1)`; set by `workers.ts` `openRegion`). */
  cachedOne = 0;
  /** Word index of frame 0's slot. */
  readonly metaWord: number;
  /** Byte address of frame 0. */
  readonly frameByte: number;
  /** Frames in the region, as this worker last looked (`header.ts` `syncFrames`: a grow in
   *  another worker raises it at this worker's next look). */
  nframes: number;
  /** `nframes * PAGE_SIZE`: every paddr this worker knows of is below it. */
  maxPaddr: number;
  /** The most frames the region may grow to. */
  readonly maxFrames: number;
  private layout: Layout;
  private dv: DataView | undefined;

  constructor(
    /** The shared memory the region lives in. */
    readonly memory: SharedArrayBuffer | WasmMemory,
    buffer: SharedArrayBuffer,
    /** The byte offset of the region in `memory`. */
    readonly offset: number,
    layout: Layout,
    /** This worker's id in the worker table (1..MAX_WORKERS). */
    readonly workerId: number,
    /** Word index of this worker's record in the worker table (`workers.ts`). */
    readonly rec: number,
    /** This worker's lock token: its record's generation and its id (`workers.ts`). */
    readonly token: number,
    /** Whether the seed's contracts are checked (the header's flag). */
    readonly checked: boolean,
  ) {
    this.layout = layout;
    this.mem = makeViews(buffer, offset, layout.totalBytes);
    this.i32 = this.mem.i32;
    this.at = regionAtomics(memory, offset, this.i32, this.mem.u8);
    this.metaWord = layout.metaOffset >> 2;
    this.frameByte = layout.frameOffset;
    this.nframes = layout.nframes;
    this.maxPaddr = layout.nframes * PAGE_SIZE;
    this.maxFrames = layout.maxFrames;
  }

  /**
   * Makes this worker's views cover `nframes` frames (the region grew to that many: the memory
   * is long enough, see `header.ts` `setCommittedFrames`). Views taken before stay valid for
   * what they covered.
   */
  resize(nframes: number): void {
    if (nframes <= this.nframes) return;
    const buffer = currentBuffer(this.memory);
    this.layout = withFrames(this.layout, nframes);
    this.mem = makeViews(buffer, this.offset, this.layout.totalBytes);
    this.i32 = this.mem.i32;
    if (this.at.kind === 'js') this.at = regionAtomics(this.memory, this.offset, this.i32, this.mem.u8);
    this.dv = undefined;
    this.nframes = nframes;
    this.maxPaddr = nframes * PAGE_SIZE;
  }

  /** The end, in bytes from the region start, of what this worker's views cover. */
  get viewEnd(): number {
    return this.frameByte + this.maxPaddr;
  }

  /** A DataView of the region (little-endian access), made on first use. */
  dataView(): DataView {
    const u8 = this.mem.u8;
    return (this.dv ??= new DataView(u8.buffer, u8.byteOffset, u8.byteLength));
  }
}
