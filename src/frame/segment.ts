/**
 * `Segment<M>`: a contiguous range of frames, holding one reference to each, as the kernel's
 * `Segment<M>`. Creation from unused frames is all or nothing; split, slice and iteration follow
 * the kernel, with its panics turned into `FrameUseError('BadRange')`.
 */
import { checkNumber, checkRangeArg } from '../base/args.js';
import { FrameUseError, GetFrameError, hex } from '../base/errors.js';
import { OP_RAW } from '../region/journal.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../base/units.js';
import { clearOp, recordOp } from '../region/journal.js';
import type { FrameContext } from './context.js';
import { Frame, resolveType, type InitOf } from './frame.js';
import type { Paddr } from '../base/units.js';
import { checkRawHeld, claimOrThrow, dropOne, refuseFree, takeForgottenRun } from './meta.js';
import { dropRange } from './teardown.js';
import { countOf, dropForgotten, claimRun, incRef, notUnused, publishRun, setType, storageByte, unclaim, slotWord } from '../region/meta.js';
import { lookupTypeId, typeIdOf } from './meta-type.js';
import { ensureFromUnused, forgetChecked, requireFromUnused } from '../checked/contracts.js';
import { Untyped, checkMeta, type AnyInit, type AnyMeta } from './meta-type.js';
import { FrameHandle, checkHandle } from './handle.js';
import { checkBytes } from './untyped.js';

/**
 * A range of physical addresses `[start, end)`: what `Segment.fromUnused` and `Segment.fromRaw`
 * take and `intoRaw` gives (page-aligned), and, as byte offsets into a segment, what `slice`
 * takes.
 *
 * @example
 * ```ts
 * const seg = sys.allocSegment(4);
 * const range: PaddrRange = { start: PAGE_SIZE, end: 3 * PAGE_SIZE }; // offsets in `seg`
 * const middle = seg.slice(range);
 * console.log(middle.nframes); // 2
 * middle.drop();
 * seg.drop();
 * ```
 */
export interface PaddrRange {
  /** The first address (or offset) in the range. */
  readonly start: Paddr;
  /** The address (or offset) just past the range. */
  readonly end: Paddr;
}

/**
 * A contiguous range of frames, holding one reference to each, as the kernel's `Segment<M>`.
 * Creation is all or nothing; `split`, `slice` and iteration follow the kernel, with its panics
 * turned into `FrameUseError('BadRange')`. Untyped segments expose all their bytes as one view.
 *
 * @example
 * ```ts
 * const seg = sys.allocSegment(8); // 8 contiguous frames, zeroed
 * seg.fill(1);
 * const [head, tail] = seg.split(2 * PAGE_SIZE); // consumes `seg`
 * console.log(head.nframes, tail.nframes, tail.bytes()[0]); // 2 6 1
 * head.drop();
 * tail.drop();
 * ```
 */
export class Segment<M extends AnyMeta = AnyMeta> extends FrameHandle<M> implements Disposable, Iterable<Frame<M>> {
  /** @internal False once dropped or consumed. */
  _live = true;

  /** @internal */
  constructor(
    /** @internal */ readonly _sys: FrameContext,
    /**
     * The address of the first frame (readable after the segment is dropped or consumed).
     *
     * @example
     * ```ts
     * const seg = sys.allocSegment(2);
     * const first = Frame.fromInUse(sys, seg.startPaddr);
     * console.log(seg.startPaddr % PAGE_SIZE, first.referenceCount); // 0 2
     * first.drop();
     * seg.drop();
     * ```
     */
    readonly startPaddr: Paddr,
    /**
     * The address just past the last frame.
     *
     * @example
     * ```ts
     * const seg = sys.allocSegment(4);
     * console.log((seg.endPaddr - seg.startPaddr) / PAGE_SIZE); // 4
     * seg.drop();
     * ```
     */
    readonly endPaddr: Paddr,
    /** @internal */ readonly _type: M,
    /** @internal True when frames may be of different types (restored without a type). */
    readonly _mixed = false,
  ) {
    super();
    if (_sys._leaks !== undefined) this._track(_sys._leaks);
  }

  /**
   * Gets a segment from the raw, unused frames of `range`, each with metadata `meta` initialised
   * by `init(paddr)` (the kernel's `Segment::from_unused`). All or nothing: on any error every
   * slot claimed so far is unused again, so the state equals the state before.
   *
   * Errors: `GetFrameError` (`NotAligned`, `OutOfBound`, `InUse`, `Busy`, `Unique`, `Free`);
   * `FrameUseError('BadRange')` for an empty range; `BadValue` for bad metadata; whatever `init`
   * throws.
   *
   * @example
   * ```ts
   * const Block = defineMeta('app.block', { index: 'u32' });
   * const start = sys.allocator.alloc(4, 1)!; // 4 raw frames, ours
   * const range = { start, end: start + 4 * PAGE_SIZE };
   * const seg = Segment.fromUnused(sys, range, Block, (paddr) => ({ index: (paddr - start) / PAGE_SIZE }));
   * console.log(seg.nframes, seg.metaType === Block); // 4 true
   * seg.drop(); // the last drops give the frames to the allocator
   * ```
   */
  static fromUnused<M extends AnyMeta>(
    sys: FrameContext,
    range: PaddrRange,
    meta: M,
    init?: (paddr: Paddr) => InitOf<M> | undefined,
  ): Segment<M> {
    sys._assertOpen();
    checkRange(sys, range, false);
    checkMeta(meta);
    refuseFree(sys, range.start >>> PAGE_SHIFT, (range.end - range.start) / PAGE_SIZE);
    recordOp(sys._region, OP_RAW, range.start >>> PAGE_SHIFT, (range.end - range.start) / PAGE_SIZE);
    try {
      claimRange(sys, range.start, range.end, meta, init);
      publishRange(sys, range.start, range.end);
    } finally {
      clearOp(sys._region);
    }
    if (sys.checked) ensureRange(sys, range.start, range.end, meta);
    return new Segment(sys, range.start, range.end, meta);
  }

  /**
   * A one-frame segment holding `frame`'s reference; `frame` is consumed.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const seg = Segment.fromFrame(frame);
   * console.log(seg.nframes, seg.startPaddr === frame.paddr); // 1 true
   * seg.drop();
   * ```
   */
  static fromFrame<M extends AnyMeta>(frame: Frame<M>): Segment<M> {
    checkHandle(frame as unknown, Frame, 'Segment.fromFrame');
    frame._consume();
    return new Segment(frame._sys, frame.paddr, frame.paddr + PAGE_SIZE, frame._type);
  }

  /**
   * Restores a segment forgotten with `intoRaw`, taking over one reference per frame. With
   * `meta`, every frame must be of that type (`WrongType`). Checked mode: each frame must have a
   * forgotten reference (`from_raw_requires`); otherwise frames nobody holds are `NotHeld`.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(2);
   * const range = seg.intoRaw(); // { start, end }: e.g. postMessage(range) to a worker
   * const back = Segment.fromRaw(sys, range, Untyped);
   * console.log(back.nframes); // 2
   * back.drop();
   * ```
   */
  static fromRaw<M extends AnyMeta = AnyMeta>(sys: FrameContext, range: PaddrRange, meta?: M): Segment<M> {
    return Segment._restore(sys, range, meta, true);
  }

  /**
   * @internal `fromRaw`; with `takeRecords` false, checked mode's forgotten-reference records
   * are left for the caller to take (`FrameChannel`: after its queue has let go of the entry).
   */
  static _restore<M extends AnyMeta = AnyMeta>(sys: FrameContext, range: PaddrRange, meta: M | undefined, takeRecords: boolean): Segment<M> {
    sys._assertOpen();
    checkRange(sys, range, true);
    const { start, end } = range;
    let type: AnyMeta | undefined = meta;
    for (let p = start; p < end; p += PAGE_SIZE) {
      const w = slotWord(sys._region, p >>> PAGE_SHIFT);
      checkRawHeld(sys, w, p, false);
      const t = resolveType(sys, w, p, meta);
      type ??= t;
    }
    if (takeRecords && sys.checked) takeForgottenRun(sys, start, end);
    return new Segment(sys, start, end, (type ?? Untyped) as M, meta === undefined);
  }

  /**
   * Bytes in the segment: `nframes * PAGE_SIZE`.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(3);
   * console.log(seg.size); // 12288
   * seg.drop();
   * ```
   */
  get size(): number {
    return this.endPaddr - this.startPaddr;
  }

  /**
   * Frames in the segment.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(3);
   * console.log(seg.nframes); // 3
   * seg.drop();
   * ```
   */
  get nframes(): number {
    return (this.endPaddr - this.startPaddr) / PAGE_SIZE;
  }

  /**
   * Splits at byte `offset` into `[start, start+offset)` and `[start+offset, end)`; this
   * segment is consumed. `offset` must be a multiple of PAGE_SIZE strictly inside (`BadRange`).
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(4);
   * const [head, tail] = seg.split(PAGE_SIZE);
   * console.log(head.nframes, tail.nframes, tail.startPaddr === head.endPaddr); // 1 3 true
   * head.drop();
   * tail.drop();
   * ```
   */
  split(offset: number): [Segment<M>, Segment<M>] {
    this._check();
    checkNumber(offset, 'offset');
    if (offset % PAGE_SIZE !== 0) {
      throw new FrameUseError('BadRange', `split offset ${offset} is not a multiple of PAGE_SIZE`);
    }
    if (!(offset > 0 && offset < this.size)) {
      throw new FrameUseError('BadRange', `split offset ${offset} is not strictly inside 0..${this.size}`);
    }
    this._end();
    const mid = this.startPaddr + offset;
    return [
      new Segment(this._sys, this.startPaddr, mid, this._type, this._mixed),
      new Segment(this._sys, mid, this.endPaddr, this._type, this._mixed),
    ];
  }

  /**
   * A new segment over byte offsets `[start, end)` of this one, with a new reference to each of
   * its frames. Offsets must be multiples of PAGE_SIZE with `0 <= start <= end <= size`
   * (`BadRange`); an empty slice is allowed, as in the kernel.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(4);
   * const middle = seg.slice({ start: PAGE_SIZE, end: 3 * PAGE_SIZE }); // +1 reference to 2 frames
   * seg.drop(); // frames 0 and 3 are freed; `middle` keeps 1 and 2
   * console.log(middle.nframes, sys.stats().used); // 2 2
   * middle.drop();
   * ```
   */
  slice(range: PaddrRange): Segment<M> {
    this._check();
    checkRangeArg(range);
    const { start, end } = range;
    if (start % PAGE_SIZE !== 0 || end % PAGE_SIZE !== 0) {
      throw new FrameUseError('BadRange', `slice ${start}..${end} is not aligned to PAGE_SIZE`);
    }
    if (!(start >= 0 && start <= end && end <= this.size)) {
      throw new FrameUseError('BadRange', `slice ${start}..${end} is out of bounds 0..${this.size}`);
    }
    const s = this.startPaddr + start;
    const e = this.startPaddr + end;
    incRange(this._sys, s, e);
    return new Segment(this._sys, s, e, this._type, this._mixed);
  }

  /**
   * A new segment over the same frames: +1 reference each (`Overflow` changes nothing).
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(2);
   * const copy = seg.clone();
   * seg.drop();
   * console.log(sys.stats().used, copy.bytes().length); // 2 8192
   * copy.drop();
   * ```
   */
  clone(): Segment<M> {
    this._check();
    incRange(this._sys, this.startPaddr, this.endPaddr);
    return new Segment(this._sys, this.startPaddr, this.endPaddr, this._type, this._mixed);
  }

  /**
   * Drops one reference to each frame; frames whose last reference this was are freed (their
   * `onDrop` runs). A second drop is `FrameUseError('Dropped')`.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(3);
   * seg.drop();
   * console.log(sys.stats().used); // 0
   * ```
   */
  drop(): void {
    this._consume();
    dropRange(this._sys, this.startPaddr, this.endPaddr);
  }

  /**
   * `using` support: drops the segment if it is still alive (a consumed one is left alone).
   *
   * @example
   * ```ts
   * {
   *   using seg = sys.allocSegment(4);
   *   seg.fill(9);
   * } // dropped here
   * console.log(sys.stats().used); // 0
   * ```
   */
  [Symbol.dispose](): void {
    if (this._live) this.drop();
  }

  /**
   * Forgets the segment, leaving one reference in each frame; restore it with
   * `Segment.fromRaw(sys, range)`, here or in another worker.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(2);
   * const { start, end } = seg.intoRaw();
   * console.log((end - start) / PAGE_SIZE, sys.stats().used); // 2 2
   * Segment.fromRaw(sys, { start, end }).drop();
   * ```
   */
  intoRaw(): PaddrRange {
    this._check();
    if (this._sys.checked) {
      // All or nothing: a failed check takes back the forgotten references already recorded.
      let p = this.startPaddr;
      try {
        for (; p < this.endPaddr; p += PAGE_SIZE) forgetChecked(this._sys._region, slotWord(this._sys._region, p >>> PAGE_SHIFT), p, false);
      } catch (e) {
        for (let q = this.startPaddr; q < p; q += PAGE_SIZE) dropForgotten(this._sys._region, slotWord(this._sys._region, q >>> PAGE_SHIFT));
        throw e;
      }
    }
    this._end();
    return { start: this.startPaddr, end: this.endPaddr };
  }

  /**
   * Iterates the frames, moving each frame's reference to the `Frame` it yields: the segment is
   * consumed at once. Frames not yet yielded when iteration stops early are dropped.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(3);
   * const offsets: number[] = [];
   * for (const frame of seg) {
   *   offsets.push(frame.paddr - seg.startPaddr);
   *   frame.drop();
   * }
   * console.log(offsets); // [ 0, 4096, 8192 ]
   * ```
   */
  [Symbol.iterator](): IterableIterator<Frame<M>> & Disposable {
    this._consume();
    return new SegmentIterator(this._sys, this.startPaddr, this.endPaddr, this._type, this._mixed);
  }

  /** @internal */
  get _kind(): string {
    return 'Segment';
  }

  /** @internal */
  get _start(): Paddr {
    return this.startPaddr;
  }

  /** @internal A segment restored without a type checks each of its frames. */
  override _checkBytes(): void {
    if (!this._mixed) {
      super._checkBytes();
      return;
    }
    this._check();
    for (let p = this.startPaddr; p < this.endPaddr; p += PAGE_SIZE) {
      checkBytes(resolveType(this._sys, slotWord(this._sys._region, p >>> PAGE_SHIFT), p, undefined), p);
    }
  }

  /** @internal */
  _describeRange(): string {
    return `Segment(${hex(this.startPaddr)}..${hex(this.endPaddr)}`;
  }

  /** @internal */
  _describeState(): string {
    return `${this.nframes} frame${this.nframes === 1 ? '' : 's'}`;
  }

  /** `Segment(0x3000..0x5000)`, for logs. */
  override toString(): string {
    return `Segment(${hex(this.startPaddr)}..${hex(this.endPaddr)})`;
  }
}

/** Iterator over a consumed segment's frames; `return()` drops what was not yielded. */
class SegmentIterator<M extends AnyMeta> implements IterableIterator<Frame<M>>, Disposable {
  constructor(
    private readonly sys: FrameContext,
    private next_: Paddr,
    private readonly end: Paddr,
    private readonly type: M,
    private readonly mixed: boolean,
  ) {}

  next(): IteratorResult<Frame<M>> {
    if (this.next_ >= this.end) return { done: true, value: undefined };
    const p = this.next_;
    this.next_ += PAGE_SIZE;
    const w = slotWord(this.sys._region, p >>> PAGE_SHIFT);
    const type = this.mixed ? (resolveType(this.sys, w, p, undefined) as M) : this.type;
    return { done: false, value: new Frame(this.sys, w, p, type) };
  }

  return(): IteratorResult<Frame<M>> {
    const p = this.next_;
    this.next_ = this.end;
    if (p < this.end) dropRange(this.sys, p, this.end);
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): this {
    return this;
  }

  [Symbol.dispose](): void {
    this.return();
  }
}

/**
 * Validates a range as the kernel's `Segment::from_unused` does: `NotAligned` (start, then end),
 * `OutOfBound`, then `BadRange` if empty (unless `allowEmpty`).
 */
function checkRange(sys: FrameContext, range: PaddrRange, allowEmpty: boolean): void {
  checkRangeArg(range);
  const { start, end } = range;
  if (start % PAGE_SIZE !== 0) throw new GetFrameError('NotAligned', start);
  if (end % PAGE_SIZE !== 0) throw new GetFrameError('NotAligned', end);
  if (!(end <= sys.maxPaddr)) throw new GetFrameError('OutOfBound', end);
  if (!(start >= 0)) throw new GetFrameError('OutOfBound', start);
  if (allowEmpty ? start > end : start >= end) {
    throw new FrameUseError('BadRange', `range ${hex(start)}..${hex(end)} is empty`);
  }
}

/**
 * Claims every slot of `[start, end)` and writes its metadata, leaving them busy (count 0). On
 * any error the slots claimed so far are unclaimed and the error rethrown. The type is
 * registered only once every slot is claimed, so a failed call leaves the registry as it was.
 */
export function claimRange<M extends AnyMeta>(
  sys: FrameContext,
  start: Paddr,
  end: Paddr,
  meta: M,
  init: ((paddr: Paddr) => InitOf<M> | undefined) | undefined,
): void {
  const r = sys._region;
  if (init === undefined && !sys.checked && meta._region === sys._region) {
    // The hot path: one pass over the slots (a slot is a cache line; each pass over a thousand
    // costs microseconds), all or none.
    const first = slotWord(sys._region, start >>> PAGE_SHIFT);
    const n = (end - start) / PAGE_SIZE;
    const claimed = claimRun(r, first, n, meta._id);
    if (claimed < n) throw notUnused(countOf(r, slotWord(r, (start >>> PAGE_SHIFT) + claimed)), start + claimed * PAGE_SIZE);
    return;
  }
  let p = start;
  try {
    for (; p < end; p += PAGE_SIZE) {
      const values: AnyInit = init?.(p);
      meta._validate(values);
      const w = slotWord(sys._region, p >>> PAGE_SHIFT);
      if (sys.checked) requireFromUnused(r, w, p);
      claimOrThrow(r, w, p);
      meta._write(r.mem, storageByte(w), values); // OWNER: busy, this worker's alone
    }
    const typeId = typeIdOf(sys._region, meta);
    for (let q = start; q < end; q += PAGE_SIZE) setType(r, slotWord(sys._region, q >>> PAGE_SHIFT), typeId);
  } catch (e) {
    for (let q = start; q < p; q += PAGE_SIZE) unclaim(r, slotWord(sys._region, q >>> PAGE_SHIFT));
    throw e;
  }
}

/** Checked mode: `from_unused_ensures` for every frame of a new segment. */
export function ensureRange(sys: FrameContext, start: Paddr, end: Paddr, meta: AnyMeta): void {
  const typeId = lookupTypeId(sys._region, meta);
  for (let p = start; p < end; p += PAGE_SIZE) ensureFromUnused(sys._region, slotWord(sys._region, p >>> PAGE_SHIFT), p, false, typeId);
}

/** Publishes claimed slots `[start, end)` with count 1. */
export function publishRange(sys: FrameContext, start: Paddr, end: Paddr): void {
  publishRun(sys._region, slotWord(sys._region, start >>> PAGE_SHIFT), (end - start) / PAGE_SIZE);
}

/** Adds a reference to every frame of `[start, end)`; on `Overflow` undoes the ones added. */
function incRange(sys: FrameContext, start: Paddr, end: Paddr): void {
  let p = start;
  try {
    for (; p < end; p += PAGE_SIZE) incRef(sys._region, slotWord(sys._region, p >>> PAGE_SHIFT), p);
  } catch (e) {
    for (let q = start; q < p; q += PAGE_SIZE) dropOne(sys, slotWord(sys._region, q >>> PAGE_SHIFT), q);
    throw e;
  }
}

