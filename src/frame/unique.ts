/**
 * `UniqueFrame<M>`: the frame handle that is not shared with others, as the kernel's
 * `UniqueFrame`. Its slot reads `REF_COUNT_UNIQUE`, so no one can add a reference
 * (`fromInUse` reports `Unique`), and it may write any metadata field (`metaMut`).
 */
import { FrameUseError, hex } from '../base/errors.js';
import { REF_COUNT_UNIQUE } from '../base/limits.js';
import type { FrameContext } from './context.js';
import { Frame, resolveType, type InitOf } from './frame.js';
import type { MetaViewOf } from './frame.js';
import { checkPaddr, type Paddr } from '../base/units.js';
import { checkRawHeld, getFromUnused, takeForgottenOrThrow } from './meta.js';
import { dropMetaInPlace, dropUnique, freeCleared } from './teardown.js';
import { listOf, publish, setType, storageByte, toUnique, slotWord } from '../region/meta.js';
import type { AnyMeta, MetaMut, MetaType, Schema } from './meta-type.js';
import { checkMeta, lookupTypeId, typeIdOf } from './meta-type.js';
import { forgetChecked, requireMeta, requireUnique } from '../checked/contracts.js';
import { SingleFrameHandle, checkHandle } from './handle.js';

/** The writable metadata view type of a metadata type. */
export type MetaMutOf<M extends AnyMeta> = M extends MetaType<infer S, boolean> ? MetaMut<S> : MetaMut<Schema>;

/**
 * The handle of a frame that nobody else holds, as the kernel's `UniqueFrame`: its slot reads
 * `REF_COUNT_UNIQUE`, so no one can add a reference (`fromInUse` reports `Unique`), and it may
 * write any metadata field (`metaMut`). The frames of a `LinkedList` are unique. `intoFrame()`
 * makes it shared; `UniqueFrame.tryFrom(frame)` makes a shared frame unique again when that
 * handle is its only reference.
 *
 * @example
 * ```ts
 * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
 * const page = new FrameAllocOptions(sys).allocUnique(PageMeta, { owner: 1 });
 * page.metaMut.dirty = true; // any field: nobody else can see the frame
 * const shared = page.intoFrame(); // count 1, read-only metadata from here on
 * console.log(shared.meta.dirty, shared.referenceCount); // true 1
 * shared.drop();
 * ```
 */
export class UniqueFrame<M extends AnyMeta = AnyMeta> extends SingleFrameHandle<M> implements Disposable {
  /** @internal False once dropped or consumed. */
  _live = true;
  /** @internal */
  private _view: MetaViewOf<M> | undefined = undefined;
  /** @internal */
  private _mut: MetaMutOf<M> | undefined = undefined;

  /** @internal */
  constructor(
    /** @internal */ readonly _sys: FrameContext,
    /** @internal */ readonly _w: number,
    /**
     * The frame's physical address; stays readable after the handle is consumed.
     *
     * @example
     * ```ts
     * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
     * const paddr = unique.paddr;
     * const frame = unique.intoFrame(); // consumes `unique`
     * console.log(frame.paddr === paddr, unique.paddr === paddr); // true true
     * frame.drop();
     * ```
     */
    readonly paddr: Paddr,
    /** @internal */ readonly _type: M,
  ) {
    super();
    if (_sys._leaks !== undefined) this._track(_sys._leaks);
  }

  /**
   * Gets a unique frame from a raw, unused page (the kernel's `UniqueFrame::from_unused`).
   * Errors as `Frame.fromUnused`.
   *
   * @example
   * ```ts
   * const paddr = sys.allocator.alloc(1, 1)!; // a raw frame, ours
   * const unique = UniqueFrame.fromUnused(sys, paddr, Untyped);
   * try {
   *   Frame.fromInUse(sys, paddr); // nobody else may take a reference
   * } catch (e) {
   *   console.log((e as GetFrameError).code); // 'Unique'
   * }
   * unique.drop();
   * ```
   */
  static fromUnused<M extends AnyMeta>(sys: FrameContext, paddr: Paddr, meta: M, init?: InitOf<M>): UniqueFrame<M> {
    sys._assertOpen();
    const w = getFromUnused(sys, paddr, meta, init, true);
    return new UniqueFrame(sys, w, paddr, meta);
  }

  /**
   * Makes a shared frame unique if `frame` holds its only reference (count exactly 1, CAS to
   * UNIQUE). On success `frame` is consumed; otherwise returns null and `frame` is untouched.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const copy = frame.clone();
   * console.log(UniqueFrame.tryFrom(frame)); // null: two references
   * copy.drop();
   * const unique = UniqueFrame.tryFrom(frame)!; // the only one now: `frame` is consumed
   * unique.drop();
   * ```
   */
  static tryFrom<M extends AnyMeta>(frame: Frame<M>): UniqueFrame<M> | null {
    checkHandle(frame as unknown, Frame, 'UniqueFrame.tryFrom');
    frame._check();
    const sys = frame._sys;
    if (!toUnique(sys._region, frame._w)) return null;
    frame._end();
    return new UniqueFrame(sys, frame._w, frame.paddr, frame._type);
  }

  /**
   * Restores a unique frame forgotten with `intoRaw`. The frame must be unique (`NotHeld`
   * otherwise), in no linked list (`InList`) and of type `meta` (`WrongType`); in checked mode it
   * must also have been forgotten (`ContractError('from_raw_requires')`).
   *
   * @example
   * ```ts
   * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
   * const paddr = unique.intoRaw();
   * const back = UniqueFrame.fromRaw(sys, paddr, Untyped);
   * console.log(back.referenceCount === REF_COUNT_UNIQUE); // true
   * back.drop();
   * ```
   */
  static fromRaw<M extends AnyMeta>(sys: FrameContext, paddr: Paddr, meta: M): UniqueFrame<M> {
    sys._assertOpen();
    const w = slotWord(sys._region, checkPaddr(paddr, sys.maxPaddr));
    checkRawHeld(sys, w, paddr, true);
    const list = listOf(sys._region, w);
    if (list !== 0) throw new FrameUseError('InList', `frame ${hex(paddr)} is owned by linked list ${list}`);
    resolveType(sys, w, paddr, meta);
    if (sys.checked) takeForgottenOrThrow(sys, w, paddr);
    return new UniqueFrame(sys, w, paddr, meta);
  }

  /**
   * Always `REF_COUNT_UNIQUE` while the handle is alive.
   *
   * @example
   * ```ts
   * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
   * console.log(unique.referenceCount === REF_COUNT_UNIQUE); // true
   * unique.drop();
   * ```
   */
  override get referenceCount(): number {
    this._check();
    return REF_COUNT_UNIQUE;
  }

  /**
   * The metadata, read-only (as through a shared handle); `metaMut` writes.
   *
   * @example
   * ```ts
   * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
   * const page = new FrameAllocOptions(sys).allocUnique(PageMeta, { owner: 3 });
   * console.log(page.meta.owner); // 3
   * page.drop();
   * ```
   */
  get meta(): MetaViewOf<M> {
    this._check();
    if (this._sys.checked) requireMeta(this._sys._region, this._w, this.paddr, lookupTypeId(this._sys._region, this._type), true);
    return (this._view ??= this._type._view(this, this._sys._region.mem, storageByte(this._w)) as MetaViewOf<M>);
  }

  /**
   * The metadata, writable: a unique handle may change any field (`&mut M` in the kernel). A
   * value that does not fit is `FrameUseError('BadValue')`.
   *
   * @example
   * ```ts
   * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
   * const page = new FrameAllocOptions(sys).allocUnique(PageMeta, { owner: 1 });
   * page.metaMut.owner = 2;
   * page.metaMut.dirty = true;
   * console.log(page.meta.owner, page.meta.dirty); // 2 true
   * page.drop();
   * ```
   */
  get metaMut(): MetaMutOf<M> {
    this._check();
    if (this._sys.checked) requireMeta(this._sys._region, this._w, this.paddr, lookupTypeId(this._sys._region, this._type), true);
    return (this._mut ??= this._type._mutView(this, this._sys._region.mem, storageByte(this._w)) as MetaMutOf<M>);
  }

  /**
   * Replaces the metadata with `meta`/`init` (the kernel's `repurpose`): the old type's `onDrop`
   * runs, the slot stays unique, this handle is consumed. A bad `init` throws `BadValue` first,
   * changing nothing. If the old `onDrop` throws, the frame is freed and the error rethrown.
   *
   * @example
   * ```ts
   * const FreePage = defineMeta('app.free-page', { next: 'paddr' });
   * const UsedPage = defineMeta('app.used-page', { owner: 'u32' });
   * const free = new FrameAllocOptions(sys).allocUnique(FreePage, { next: null });
   * const used = free.repurpose(UsedPage, { owner: 5 }); // the same frame, another type
   * console.log(used.meta.owner, used.paddr === free.paddr); // 5 true
   * used.drop();
   * ```
   */
  repurpose<T extends AnyMeta>(meta: T, init?: InitOf<T>): UniqueFrame<T> {
    this._check();
    checkMeta(meta);
    if (this._sys.checked) requireUnique(this._sys._region, this._w, this.paddr, 'repurpose_requires');
    meta._validate(init);
    const sys = this._sys;
    const typeId = typeIdOf(sys._region, meta);
    this._end();
    try {
      dropMetaInPlace(sys, this._w);
    } catch (e) {
      freeCleared(sys, this._w, this.paddr);
      throw e;
    }
    setType(sys._region, this._w, typeId); // OWNER: UNIQUE, this handle's alone
    meta._write(sys._region.mem, storageByte(this._w), init);
    return new UniqueFrame(sys, this._w, this.paddr, meta);
  }

  /**
   * Turns this into a shared `Frame` with count 1; this handle is consumed.
   *
   * @example
   * ```ts
   * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
   * unique.fill(7); // set up alone...
   * const frame = unique.intoFrame(); // ...then shared
   * const copy = frame.clone();
   * console.log(copy.bytes()[0], frame.referenceCount); // 7 2
   * copy.drop();
   * frame.drop();
   * ```
   */
  intoFrame(): Frame<M> {
    this._check();
    if (this._sys.checked) requireUnique(this._sys._region, this._w, this.paddr, 'into_frame_requires');
    this._end();
    publish(this._sys._region, this._w, false);
    return new Frame(this._sys, this._w, this.paddr, this._type);
  }

  /**
   * Forgets the handle; restore it with `UniqueFrame.fromRaw(sys, paddr, meta)`, here or in
   * another worker. The frame stays unique meanwhile.
   *
   * @example
   * ```ts
   * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
   * const paddr = unique.intoRaw();
   * console.log(sys.stats().unique); // 1: held, by the number
   * UniqueFrame.fromRaw(sys, paddr, Untyped).drop();
   * ```
   */
  intoRaw(): Paddr {
    this._check();
    if (this._sys.checked) forgetChecked(this._sys._region, this._w, this.paddr, true);
    this._end();
    return this.paddr;
  }

  /**
   * Drops the frame: `onDrop`, slot cleared, frame back to the allocator. A second drop is
   * `FrameUseError('Dropped')`.
   *
   * @example
   * ```ts
   * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
   * unique.drop();
   * console.log(sys.stats().used); // 0
   * ```
   */
  drop(): void {
    this._check();
    if (this._sys.checked) requireUnique(this._sys._region, this._w, this.paddr, 'drop_requires');
    this._end();
    dropUnique(this._sys, this._w, this.paddr, true);
  }

  /**
   * `using` support: drops the frame if the handle is still alive (a consumed one is left alone).
   *
   * @example
   * ```ts
   * {
   *   using unique = new FrameAllocOptions(sys).allocUnique(Untyped);
   *   unique.fill(1);
   * } // dropped here
   * console.log(sys.stats().used); // 0
   * ```
   */
  [Symbol.dispose](): void {
    if (this._live) this.drop();
  }

  /**
   * Marks the frame unused without returning it to the allocator (the kernel's experimental
   * `reset_as_unused`, for allocators and tests): the caller keeps the raw frame. `onDrop` runs.
   *
   * @example
   * ```ts
   * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
   * const paddr = unique.paddr;
   * unique.resetAsUnused(); // UNUSED, but not free: the raw frame is ours
   * console.log(sys.stats().raw); // 1
   * sys.allocator.dealloc(paddr, 1); // give it back (or claim it again with fromUnused)
   * ```
   */
  resetAsUnused(): void {
    this._check();
    if (this._sys.checked) requireUnique(this._sys._region, this._w, this.paddr, 'reset_as_unused_requires');
    this._end();
    dropUnique(this._sys, this._w, this.paddr, false);
  }

  /** @internal */
  get _kind(): string {
    return 'UniqueFrame';
  }
}
