/**
 * `FrameAllocOptions`: allocation of frames, unique frames and segments from the region's
 * allocator, zeroed or not, as the kernel's `FrameAllocOptions`.
 */
import { syncFrames } from '../region/header.js';
import { AllocError, GetFrameError } from '../base/errors.js';
import { checkCount } from '../base/global-allocator.js';
import { INSPECT } from '../base/inspect.js';
import { PAGE_SHIFT, PAGE_SIZE, checkPaddr, type Paddr } from '../base/units.js';
import { ensureFromUnused, requireFromUnused } from '../checked/contracts.js';
import { clearOp } from '../region/journal.js';
import { RC_UNIQUE, publish, slotPaddr, storageByte, slotWord } from '../region/meta.js';
import { publishTaken, takeCached } from '../region/workers.js';
import type { FrameContext } from './context.js';
import { Frame, type InitOf } from './frame.js';
import { claimOrThrow, claimedTypeId, writeMeta } from './meta.js';
import { Untyped, checkMeta, type AnyInit, type AnyMeta } from './meta-type.js';
import { Segment, claimRange, ensureRange, publishRange } from './segment.js';
import { UniqueFrame } from './unique.js';
import { zeroBytes } from './untyped.js';

/**
 * Allocation of frames, unique frames and segments from a region's allocator, as the kernel's
 * `FrameAllocOptions`: zeroed unless told otherwise. Each allocation takes frames from the
 * allocator and sets their metadata in one step; on any error nothing is taken.
 * `sys.allocFrame` / `sys.allocSegment` are shorthands for the zeroed case.
 *
 * @example
 * ```ts
 * const alloc = new FrameAllocOptions(sys); // zeroed by default
 * const unique = alloc.allocUnique(Untyped); // what only a FrameAllocOptions makes
 * const seg = alloc.zeroed(false).allocSegment(4); // contents left as they were
 * console.log(unique.referenceCount === REF_COUNT_UNIQUE, seg.nframes); // true 4
 * unique.drop();
 * seg.drop();
 * ```
 */
export class FrameAllocOptions {
  private zeroFill = true;

  /**
   * Options for allocating from `sys` (this worker's view of the region), zeroed.
   *
   * @example
   * ```ts
   * const alloc = new FrameAllocOptions(sys);
   * const frame = alloc.allocFrame();
   * console.log(frame.bytes().every((b) => b === 0)); // true
   * frame.drop();
   * ```
   */
  constructor(private readonly sys: FrameContext) {}

  /** @internal What `console.log` shows (Node, Deno, Bun): `FrameAllocOptions(zeroed)` or `FrameAllocOptions(not zeroed)`. */
  [INSPECT](): string {
    return `FrameAllocOptions(${this.zeroFill ? 'zeroed' : 'not zeroed'})`;
  }

  /**
   * Whether allocated frames are zero-filled (default true, as in the kernel). Not zeroing saves
   * the time of writing a page; the frame then holds whatever its last user left. Returns this
   * object, for chaining.
   *
   * @example
   * ```ts
   * const first = sys.allocFrame();
   * first.fill(9);
   * first.drop(); // back to this worker's cache of free frames (LIFO)
   * const again = new FrameAllocOptions(sys).zeroed(false).allocFrame();
   * console.log(again.paddr === first.paddr, again.bytes()[0]); // true 9: the same frame, as it was
   * again.drop();
   * ```
   */
  zeroed(zeroed = true): this {
    this.zeroFill = zeroed;
    return this;
  }

  /**
   * One untyped frame (count 1). `AllocError('NoMemory')` if none is free.
   *
   * @example
   * ```ts
   * const frame = new FrameAllocOptions(sys).allocFrame();
   * console.log(frame.metaType === Untyped, frame.referenceCount); // true 1
   * frame.drop();
   * ```
   */
  allocFrame(): Frame<Untyped> {
    return this.allocFrameWith(Untyped);
  }

  /**
   * One frame with metadata `meta`, initialised from `init` (missing fields are zero). Throws
   * `AllocError('NoMemory')`, `FrameUseError('BadValue')` for a bad `init`, `MetaTypeError` if
   * the type cannot be registered in the region; then nothing changed.
   *
   * @example
   * ```ts
   * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
   * const page = new FrameAllocOptions(sys).allocFrameWith(PageMeta, { owner: 4, dirty: true });
   * console.log(page.meta.owner, page.meta.dirty); // 4 true
   * page.drop();
   * ```
   */
  allocFrameWith<M extends AnyMeta>(meta: M, init?: InitOf<M>): Frame<M> {
    const w = this.allocOne(meta, init, false);
    return new Frame(this.sys, w, slotPaddr(this.sys._region, w), meta);
  }

  /**
   * One unique frame with metadata `meta`, initialised from `init`: e.g. to put in a
   * `LinkedList`. Errors as `allocFrameWith`.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * list.pushBack(new FrameAllocOptions(sys).allocUnique(Entry, { key: 1 }));
   * console.log(list.size); // 1
   * list.destroy();
   * ```
   */
  allocUnique<M extends AnyMeta>(meta: M, init?: InitOf<M>): UniqueFrame<M> {
    const w = this.allocOne(meta, init, true);
    return new UniqueFrame(this.sys, w, slotPaddr(this.sys._region, w), meta);
  }

  /**
   * `nframes` contiguous untyped frames, all or nothing. `AllocError`: `InvalidArgs` for 0 or a
   * non-integer, `NoMemory` when no such run is free.
   *
   * @example
   * ```ts
   * const seg = new FrameAllocOptions(sys).allocSegment(8);
   * console.log(seg.nframes, seg.size); // 8 32768
   * seg.drop();
   * ```
   */
  allocSegment(nframes: number): Segment<Untyped> {
    return this.allocSegmentWith(nframes, Untyped);
  }

  /**
   * `nframes` contiguous frames with metadata `meta`, frame `paddr` initialised by `init(paddr)`.
   * All or nothing: if `init` throws or gives a bad value, the frames go back to the allocator.
   * Errors as `allocSegment` and `allocFrameWith`, and whatever `init` throws.
   *
   * @example
   * ```ts
   * const Block = defineMeta('app.block', { index: 'u32' });
   * const seg = new FrameAllocOptions(sys).allocSegmentWith(2, Block, (paddr) => ({ index: paddr / PAGE_SIZE }));
   * const second = Frame.fromInUse(sys, seg.startPaddr + PAGE_SIZE).tryAs(Block)!;
   * console.log(second.meta.index === second.paddr / PAGE_SIZE); // true
   * second.drop();
   * seg.drop();
   * ```
   */
  allocSegmentWith<M extends AnyMeta>(
    nframes: number,
    meta: M,
    init?: (paddr: Paddr) => InitOf<M> | undefined,
  ): Segment<M> {
    const sys = this.sys;
    sys._assertOpen();
    checkMeta(meta);
    checkCount(nframes);
    const start = this.take(nframes);
    const end = start + nframes * PAGE_SIZE;
    try {
      try {
        claimRange(sys, start, end, meta, init);
      } catch (e) {
        sys._dealloc(start, nframes);
        throw e;
      }
      if (this.zeroFill) zeroBytes(sys, start, end - start);
      publishRange(sys, start, end);
    } finally {
      clearOp(sys._region); // the frames are the segment's now (or back in the allocator)
    }
    if (sys.checked) ensureRange(sys, start, end, meta);
    return new Segment(sys, start, end, meta);
  }

  /** Allocates, claims, initialises and publishes one frame; returns its slot word. */
  private allocOne(meta: AnyMeta, init: AnyInit, unique: boolean): number {
    const sys = this.sys;
    sys._assertOpen();
    const r = sys._region;
    // A type registered here is a MetaType (only they get a region); anything else is checked
    // before it is touched. `?.` keeps null and primitives from throwing a raw TypeError.
    const registered = (meta as AnyMeta | null | undefined)?._region === r;
    if (!registered) checkMeta(meta);
    if (init !== undefined) meta._validate(init);
    if (registered) {
      // The hot path: this worker's cache, a type registered here. The pop, journal, claim and
      // type are one step (`takeCached`), and so is the publish when there is nothing to write
      // in between. Checked, `takeCached` claims only a clean slot (`from_unused_requires`; a
      // dirty one is left for the path below, which reports it), and the ensures follow.
      const count = unique ? RC_UNIQUE : 1;
      const direct = init === undefined && !this.zeroFill;
      const index = takeCached(r, meta._id, direct ? count : 0);
      if (index >= 0) {
        const w = slotWord(r, index);
        if (!direct) {
          if (init !== undefined) meta._write(r.mem, storageByte(w), init); // OWNER: busy, this worker's alone
          if (this.zeroFill) {
          if (index >= r.nframes) syncFrames(r); // a frame of a grow elsewhere: views that reach it
          r.at.zero(r.frameByte + index * PAGE_SIZE, PAGE_SIZE);
        }
          publishTaken(r, index, count);
        }
        if (sys.checked) ensureFromUnused(r, w, index * PAGE_SIZE, unique, meta._id);
        return w;
      }
    }
    const paddr = this.take(1);
    const w = slotWord(sys._region, paddr >>> PAGE_SHIFT);
    let typeId = 0;
    try {
      if (sys.checked) requireFromUnused(r, w, paddr);
      claimOrThrow(r, w, paddr);
      try {
        typeId = claimedTypeId(sys, w, meta);
      } catch (e) {
        sys._dealloc(paddr, 1);
        throw e;
      }
      writeMeta(r, w, typeId, meta, init);
      if (this.zeroFill) zeroBytes(sys, paddr, PAGE_SIZE);
      publish(r, w, unique);
    } finally {
      clearOp(r); // the frame is the handle's now (or back in the allocator)
    }
    if (sys.checked) ensureFromUnused(r, w, paddr, unique, typeId);
    return w;
  }

  /** `n` frames from the allocator, or `NoMemory` after trying to free deferred drops. */
  private take(n: number): Paddr {
    const sys = this.sys;
    if (n === 1) {
      const index = sys._cache?.popOne() ?? -1;
      if (index >= 0) return index << PAGE_SHIFT >>> 0;
    }
    let paddr = sys._take(n);
    if (paddr === null && sys.drainDeferred() > 0) paddr = sys._take(n);
    // autoGrow: this worker grows the region first (each grow adds room, up to maxFrames).
    while (paddr === null && sys._autoGrow(n)) paddr = sys._take(n);
    if (paddr === null) throw AllocError.noMemory(n, sys.freeFrames());
    // A plugged-in allocator is not trusted to answer inside the region.
    if (paddr % PAGE_SIZE !== 0 || paddr < 0 || paddr + n * PAGE_SIZE > sys.maxPaddr) {
      clearOp(sys._region);
      checkPaddr(paddr, sys.maxPaddr);
      throw new GetFrameError('OutOfBound', paddr);
    }
    return paddr;
  }
}
