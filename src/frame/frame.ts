/**
 * `Frame<M>`: a reference-counted handle to one frame, as the kernel's `Frame<M>`. The count
 * lives in the frame's metadata slot in shared memory, so handles in every worker add up; the
 * last `drop`, wherever it happens, runs `onDrop` and returns the frame to the allocator.
 *
 * And `FrameRef<M>`, a borrowed reference to a frame, as the kernel's `FrameRef<'a, M>`
 * (`frame_ref.rs`): it reads like the frame it borrows but never touches the reference count.
 * The two live in one file because each names the other (`borrow()` makes a `FrameRef`, whose
 * `clone()` makes a `Frame`), and the layers allow no import cycle, not even of types.
 */
import { FrameUseError, hex } from '../base/errors.js';
import type { FrameContext } from './context.js';
import { checkPaddr, type Paddr } from '../base/units.js';
import { checkRawHeld, dropRef, getFromUnused, takeForgottenOrThrow } from './meta.js';
import { getFromInUse, incRef, storageByte, typeOf, slotWord } from '../region/meta.js';
import type { AnyMeta, MetaInit, MetaType, MetaView, Schema } from './meta-type.js';
import { checkMeta, lookupTypeId, typeById } from './meta-type.js';
import { forgetChecked, requireMeta } from '../checked/contracts.js';
import { SingleFrameHandle } from './handle.js';

/**
 * The initial-metadata type of a metadata type: what `allocFrame(meta, init)` and the
 * `fromUnused` constructors take.
 *
 * @example
 * ```ts
 * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
 * const init: InitOf<typeof PageMeta> = { owner: 1, hits: 10 };
 * const page = sys.allocFrame(PageMeta, init);
 * console.log(page.meta.hits.load()); // 10
 * page.drop();
 * ```
 */
export type InitOf<M extends AnyMeta> = M extends MetaType<infer S, boolean> ? MetaInit<S> : MetaInit<Schema>;

/**
 * A reference-counted handle to one frame, as the kernel's `Frame<M>`; `M` is its metadata type.
 * Every handle holds one reference, counted in the frame's slot in shared memory, so handles in
 * all workers add up. `drop()` (or `using`) gives the reference back; the last drop, in whichever
 * worker, runs the type's `onDrop` and frees the frame. A dropped or consumed handle refuses
 * every use (`FrameUseError('Dropped')`) but `paddr`.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame(); // count 1
 * const copy = frame.clone(); // count 2: another handle to the same frame
 * copy.bytes()[0] = 42;
 * console.log(frame.bytes()[0], frame.referenceCount); // 42 2
 * copy.drop();
 * frame.drop(); // the last drop frees the frame
 * ```
 */
export class Frame<M extends AnyMeta = AnyMeta> extends SingleFrameHandle<M> implements Disposable {
  /** @internal False once dropped or consumed. */
  _live = true;
  /** @internal */
  _view: MetaViewOf<M> | undefined = undefined;

  /** @internal Use the static constructors or `FrameAllocOptions`. */
  constructor(
    /** @internal */ readonly _sys: FrameContext,
    /** @internal Word index of the frame's slot. */ readonly _w: number,
    /**
     * The frame's physical address (a multiple of PAGE_SIZE below `sys.maxPaddr`); stays readable
     * after the handle is dropped or consumed.
     *
     * @example
     * ```ts
     * const frame = sys.allocFrame();
     * console.log(frame.paddr % PAGE_SIZE, frame.paddr < sys.maxPaddr); // 0 true
     * frame.drop();
     * console.log(typeof frame.paddr); // number: still readable
     * ```
     */
    readonly paddr: Paddr,
    /** @internal */ readonly _type: M,
  ) {
    super();
    if (_sys._leaks !== undefined) this._track(_sys._leaks);
  }

  /**
   * Gets a frame from a raw, unused page with metadata `meta` initialised from `init` (the
   * kernel's `from_unused`). Throws `GetFrameError` (`NotAligned`, `OutOfBound`, `InUse`,
   * `Busy`, `Unique`, `Free`) or, for a bad `init`, `FrameUseError('BadValue')`; then nothing
   * changed.
   *
   * It claims the slot only: use it for frames you own raw (from `sys.allocator.alloc`, or left
   * by `resetAsUnused`). A frame that is free in the allocator is refused (`Free`; in checked
   * mode `ContractError('from_unused_requires')`). Its contents are left as they are. The last drop gives the frame to the allocator.
   *
   * @example
   * ```ts
   * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
   * const paddr = sys.allocator.alloc(1, 1)!; // a raw frame, ours
   * const page = Frame.fromUnused(sys, paddr, PageMeta, { owner: 2 });
   * console.log(page.meta.owner, page.referenceCount); // 2 1
   * page.drop(); // back to the allocator
   * ```
   */
  static fromUnused<M extends AnyMeta>(sys: FrameContext, paddr: Paddr, meta: M, init?: InitOf<M>): Frame<M> {
    sys._assertOpen();
    const w = getFromUnused(sys, paddr, meta, init, false);
    return new Frame(sys, w, paddr, meta);
  }

  /**
   * Gets a new reference to a frame in use (the kernel's `from_in_use`): +1 reference.
   * Throws `GetFrameError` (`Unused`, `Unique`, `Busy`, `NotAligned`, `OutOfBound`).
   * Use `tryAs` to get back the static type.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const again = Frame.fromInUse(sys, frame.paddr); // what a worker does with an address it got
   * console.log(frame.referenceCount, again.metaType === Untyped); // 2 true
   * again.drop();
   * frame.drop();
   * ```
   */
  static fromInUse(sys: FrameContext, paddr: Paddr): Frame<AnyMeta> {
    sys._assertOpen();
    const w = slotWord(sys._region, checkPaddr(paddr, sys.maxPaddr));
    getFromInUse(sys._region, w, paddr);
    return new Frame(sys, w, paddr, typeById(sys._region, typeOf(sys._region, w)));
  }

  /**
   * Restores a handle forgotten with `intoRaw` (the kernel's `from_raw`), taking over its
   * reference. With `meta`, the frame must be of that type (`WrongType` otherwise).
   *
   * Each forgotten reference may be restored once. In checked mode a `fromRaw` with no matching
   * `intoRaw` (or a second one) is a `ContractError('from_raw_requires')`; in every mode a frame
   * that nobody holds is `FrameUseError('NotHeld')`.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const paddr = frame.intoRaw(); // the reference now lives in the number (e.g. sent to a worker)
   * const back = Frame.fromRaw(sys, paddr, Untyped); // typed again; without `meta`, Frame<AnyMeta>
   * console.log(back.referenceCount); // 1
   * back.drop();
   * ```
   */
  static fromRaw<M extends AnyMeta = AnyMeta>(sys: FrameContext, paddr: Paddr, meta?: M): Frame<M> {
    return Frame._restore(sys, paddr, meta, true);
  }

  /**
   * @internal `fromRaw`; with `takeRecord` false, checked mode's forgotten-reference record is
   * left for the caller to take (`FrameChannel`: after its queue has let go of the entry).
   */
  static _restore<M extends AnyMeta = AnyMeta>(sys: FrameContext, paddr: Paddr, meta: M | undefined, takeRecord: boolean): Frame<M> {
    sys._assertOpen();
    const w = slotWord(sys._region, checkPaddr(paddr, sys.maxPaddr));
    checkRawHeld(sys, w, paddr, false);
    const type = resolveType(sys, w, paddr, meta);
    if (takeRecord && sys.checked) takeForgottenOrThrow(sys, w, paddr);
    return new Frame(sys, w, paddr, type as M);
  }

  /**
   * The frame's metadata, read live from shared memory. Read-only except atomic fields (a write
   * is a type error, and `FrameUseError('ReadOnly')` at run time): a `UniqueFrame`'s `metaMut`
   * writes any field.
   *
   * @example
   * ```ts
   * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
   * const page = sys.allocFrame(PageMeta, { owner: 7 });
   * page.meta.hits.add(1);
   * console.log(page.meta.owner, page.meta.hits.load(), JSON.stringify(page.meta)); // 7 1 {"hits":1,"owner":7,"dirty":false}
   * page.drop();
   * ```
   */
  get meta(): MetaViewOf<M> {
    this._check();
    if (this._sys.checked) requireMeta(this._sys._region, this._w, this.paddr, lookupTypeId(this._sys._region, this._type), false);
    return (this._view ??= this._type._view(this, this._sys._region.mem, storageByte(this._w)) as MetaViewOf<M>);
  }

  /**
   * A new handle to the same frame: +1 reference. `FrameUseError('Overflow')` past REF_COUNT_MAX.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const copy = frame.clone(); // e.g. to keep while `frame` is handed on
   * console.log(copy.paddr === frame.paddr, frame.referenceCount); // true 2
   * copy.drop();
   * frame.drop();
   * ```
   */
  clone(): Frame<M> {
    this._check();
    incRef(this._sys._region, this._w, this.paddr);
    return new Frame(this._sys, this._w, this.paddr, this._type);
  }

  /**
   * Drops this handle's reference. The last drop runs `onDrop`, clears the slot and returns the
   * frame to the allocator. A second `drop` is `FrameUseError('Dropped')`. If `onDrop` throws,
   * the frame is freed all the same and the error rethrown.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const copy = frame.clone();
   * frame.drop(); // count 1: `copy` still holds the frame
   * copy.drop(); // the last drop: the frame is free again
   * console.log(sys.stats().used); // 0
   * ```
   */
  drop(): void {
    this._check();
    this._end();
    dropRef(this._sys, this._w, this.paddr);
  }

  /**
   * `using` support: drops the handle if it is still alive (a consumed handle is left alone).
   *
   * @example
   * ```ts
   * {
   *   using frame = sys.allocFrame();
   *   frame.fill(1);
   * } // dropped here, even if the block throws
   * console.log(sys.stats().used); // 0
   * ```
   */
  [Symbol.dispose](): void {
    if (this._live) this.drop();
  }

  /**
   * Borrows the frame without touching the reference count (the kernel's `FrameRef`): valid while
   * this handle is alive.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const ref = frame.borrow();
   * console.log(ref.referenceCount, ref.paddr === frame.paddr); // 1 true
   * frame.drop(); // `ref` is no longer usable either
   * ```
   */
  borrow(): FrameRef<M> {
    this._check();
    return new FrameRef(this._sys, this._w, this.paddr, this._type, this);
  }

  /** @internal As a `FrameRef`'s lender: a borrow's clone is a clone of this handle. */
  _shareAgain(): Frame<M> {
    return this.clone();
  }

  /**
   * Forgets the handle, leaving its reference in the frame (the kernel's `into_raw`). Restore it
   * with `Frame.fromRaw(sys, paddr)`, here or in another worker. This handle is consumed.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const paddr = frame.intoRaw(); // postMessage(paddr) would hand the reference to a worker
   * console.log(sys.stats().used); // 1: the frame is still held, by the number
   * Frame.fromRaw(sys, paddr).drop();
   * ```
   */
  intoRaw(): Paddr {
    this._check();
    if (this._sys.checked) forgetChecked(this._sys._region, this._w, this.paddr, false);
    this._end();
    return this.paddr;
  }

  /**
   * Converts to a handle of metadata type `meta` if the frame is of that type (the kernel's
   * `TryFrom<Frame<dyn AnyFrameMeta>>`): this handle is consumed on success; on failure it returns
   * null and this handle stays as it was.
   *
   * @example
   * ```ts
   * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
   * const some: Frame<AnyMeta> = sys.allocFrame(PageMeta, { owner: 1 });
   * console.log(some.tryAs(Untyped)); // null: another type; `some` is untouched
   * const page = some.tryAs(PageMeta)!; // consumes `some`
   * console.log(page.meta.owner); // 1
   * page.drop();
   * ```
   */
  tryAs<T extends AnyMeta>(meta: T): Frame<T> | null {
    this._check();
    checkMeta(meta);
    if (typeOf(this._sys._region, this._w) !== lookupTypeId(this._sys._region, meta)) return null;
    this._end();
    return new Frame(this._sys, this._w, this.paddr, meta);
  }

  /** @internal */
  get _kind(): string {
    return 'Frame';
  }
}

/** The type of the slot at `w`, checked against `meta` when given (`WrongType` otherwise). */
export function resolveType(sys: FrameContext, w: number, paddr: Paddr, meta: AnyMeta | undefined): AnyMeta {
  const id = typeOf(sys._region, w);
  if (meta === undefined) return typeById(sys._region, id);
  checkMeta(meta);
  if (lookupTypeId(sys._region, meta) !== id) {
    const actual = id === 0 ? 'none' : typeById(sys._region, id).name;
    throw new FrameUseError('WrongType', `frame ${hex(paddr)} holds '${actual}' metadata, not '${meta.name}'`);
  }
  return meta;
}

/** The read-only metadata view type of a metadata type. */
export type MetaViewOf<M extends AnyMeta> = M extends MetaType<infer S, boolean> ? MetaView<S> : MetaView<Schema>;

/**
 * A borrowed reference to a frame, as the kernel's `FrameRef<'a, M>`: it reads like the frame
 * (`meta`, `bytes`, ...) but holds no reference of its own, so making one costs no count
 * traffic. Valid while the handle it borrows from is alive (`frame.borrow()`), while its frame
 * stays in the list it came from (iterating a `LinkedList`), or while `onDrop` runs (the `frame`
 * it gets); afterwards every use is `FrameUseError('Dropped')`.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * const ref: FrameRef<Untyped> = frame.borrow();
 * ref.bytes()[0] = 5;
 * console.log(frame.bytes()[0], ref.referenceCount); // 5 1
 * frame.drop();
 * ```
 */
export class FrameRef<M extends AnyMeta = AnyMeta> extends SingleFrameHandle<M> {
  /** @internal */
  _view: MetaViewOf<M> | undefined = undefined;

  /** @internal Use `frame.borrow()`. */
  constructor(
    /** @internal */ readonly _sys: FrameContext,
    /** @internal */ readonly _w: number,
    /**
     * The frame's physical address.
     *
     * @example
     * ```ts
     * const frame = sys.allocFrame();
     * console.log(frame.borrow().paddr === frame.paddr); // true
     * frame.drop();
     * ```
     */
    readonly paddr: Paddr,
    /** @internal */ readonly _type: M,
    /** @internal Who lent it: whether the borrow is still good, and how to take a real reference. */
    private readonly _lender: Lender<M>,
  ) {
    super(); // a borrow holds no reference: nothing to track
  }

  /** @internal As good as the lender's handle (or list position, or `onDrop` call). */
  get _live(): boolean {
    return this._lender._live;
  }

  /** @internal */
  override _check(): void {
    if (this._sys._closed) this._sys._assertOpen();
    if (!this._live) {
      throw new FrameUseError('Dropped', `FrameRef(${hex(this.paddr)}) used after its frame was dropped`);
    }
  }

  /**
   * The frame's metadata (read-only but for atomic fields, live in shared memory).
   *
   * @example
   * ```ts
   * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
   * const page = sys.allocFrame(PageMeta, { owner: 9 });
   * console.log(page.borrow().meta.owner); // 9
   * page.drop();
   * ```
   */
  get meta(): MetaViewOf<M> {
    this._check();
    return (this._view ??= this._type._view(this, this._sys._region.mem, storageByte(this._w)) as MetaViewOf<M>);
  }

  /**
   * A new shared handle to the frame (+1 reference). Not allowed in `onDrop` (the frame is being
   * freed: `Dropped`) nor on a frame borrowed from a linked list (the list owns it uniquely:
   * `InList`). A refusal leaves the count untouched.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const kept = frame.borrow().clone(); // a handle that outlives the borrow
   * frame.drop();
   * console.log(kept.referenceCount); // 1
   * kept.drop();
   * ```
   */
  clone(): Frame<M> {
    this._check();
    return this._lender._shareAgain(); // the lender decides: a Frame, or the error saying why not
  }

  /** @internal */
  get _kind(): string {
    return 'FrameRef';
  }
}

/**
 * @internal Who lent a `FrameRef`: a `Frame` (`borrow`), a linked list (its iterator), or a
 * teardown (the reference `onDrop` gets). `FrameRef.clone` asks it, so the borrow knows nothing of
 * where it came from.
 */
export interface Lender<M extends AnyMeta> {
  /** Whether the borrow is still good. */
  readonly _live: boolean;
  /** A new shared handle to the frame, or the error that says why there can be none. */
  _shareAgain(): Frame<M>;
}

/**
 * @internal The lender of the reference `onDrop` gets: good until the callback returns, and
 * never cloned (the frame is being freed).
 */
export class TeardownLender implements Lender<AnyMeta> {
  _live = true;

  constructor(private readonly paddr: Paddr) {}

  _shareAgain(): never {
    throw new FrameUseError('Dropped', `frame ${hex(this.paddr)} is being dropped; it cannot be cloned`);
  }
}
