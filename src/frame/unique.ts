/**
 * `UniqueFrame<M>`: the frame handle that is not shared with others, as the kernel's
 * `UniqueFrame`. Its slot reads `REF_COUNT_UNIQUE`, so no one can add a reference
 * (`fromInUse` reports `Unique`), and it may write any metadata field (`metaMut`).
 */
import { FrameUseError, hex } from '../errors.js';
import { PAGE_SIZE, RC_UNIQUE, REF_COUNT_UNIQUE, S_LIST, S_TYPE } from '../layout.js';
import type { FrameSystem } from '../system.js';
import { Frame, dead, resolveType, type InitOf } from './frame.js';
import type { MetaViewOf } from './frame-ref.js';
import { checkPaddr, type Paddr } from './mapping.js';
import {
  dropMetaInPlace,
  dropUnique,
  freeCleared,
  getFromUnused,
  publish,
  slotWord,
  storageByte,
  takeForgotten,
  checkRawHeld,
} from './meta.js';
import type { AnyMeta, MetaMut, MetaType, Schema } from './meta-type.js';
import { lookupTypeId, typeIdOf } from './registry.js';
import type { FrameReader, FrameWriter } from './io.js';
import { forgetChecked, requireMeta, requirePaddr, requireUnique } from '../checked/contracts.js';
import { bytesOf, checkBytes, fillOf, readerOf, writerOf, type ByteAccess } from './untyped.js';

/** The writable metadata view type of a metadata type. */
export type MetaMutOf<M extends AnyMeta> = M extends MetaType<infer S, boolean> ? MetaMut<S> : MetaMut<Schema>;

export class UniqueFrame<M extends AnyMeta = AnyMeta> implements Disposable {
  /** @internal */
  _live = true;
  /** @internal */
  private _view: MetaViewOf<M> | undefined = undefined;
  /** @internal */
  private _mut: MetaMutOf<M> | undefined = undefined;

  /** @internal */
  constructor(
    /** @internal */ readonly _sys: FrameSystem,
    /** @internal */ readonly _w: number,
    /** The frame's physical address; stays readable after the handle is consumed. */
    readonly paddr: Paddr,
    /** @internal */ readonly _type: M,
  ) {
    if (_sys._leaks !== undefined) {
      requirePaddr(_sys, paddr);
      _sys._leaks.track(this, 'UniqueFrame', paddr, 1, _type.name);
    }
  }

  /** @internal Ends the handle: dropped, or its reference moved elsewhere. */
  _end(): void {
    this._live = false;
    this._sys._leaks?.untrack(this);
  }

  /**
   * Gets a unique frame from a raw, unused page (the kernel's `UniqueFrame::from_unused`).
   * Errors as `Frame.fromUnused`.
   */
  static fromUnused<M extends AnyMeta>(sys: FrameSystem, paddr: Paddr, meta: M, init?: InitOf<M>): UniqueFrame<M> {
    sys._assertOpen();
    const w = getFromUnused(sys, paddr, meta, init, true);
    return new UniqueFrame(sys, w, paddr, meta);
  }

  /**
   * Makes a shared frame unique if `frame` holds its only reference (count exactly 1, CAS to
   * UNIQUE). On success `frame` is consumed; otherwise returns null and `frame` is untouched.
   */
  static tryFrom<M extends AnyMeta>(frame: Frame<M>): UniqueFrame<M> | null {
    frame._check();
    const sys = frame._sys;
    if (Atomics.compareExchange(sys._mem.i32, frame._w, 1, RC_UNIQUE) !== 1) return null;
    frame._end();
    return new UniqueFrame(sys, frame._w, frame.paddr, frame._type);
  }

  /**
   * Restores a unique frame forgotten with `intoRaw`. The frame must be unique and of type
   * `meta`; in checked mode it must also have been forgotten (`from_raw_requires`).
   */
  static fromRaw<M extends AnyMeta>(sys: FrameSystem, paddr: Paddr, meta: M): UniqueFrame<M> {
    sys._assertOpen();
    const w = slotWord(sys, checkPaddr(paddr, sys.maxPaddr));
    const i32 = sys._mem.i32;
    checkRawHeld(sys, w, paddr, true);
    if (i32[w + S_LIST] !== 0) {
      throw new FrameUseError('InList', `frame ${hex(paddr)} is owned by linked list ${i32[w + S_LIST]}`);
    }
    resolveType(sys, w, paddr, meta);
    if (sys.checked) takeForgotten(sys, w, paddr);
    return new UniqueFrame(sys, w, paddr, meta);
  }

  /** @internal */
  _check(): void {
    if (!this._live) throw dead('UniqueFrame', this.paddr);
  }

  get size(): number {
    return PAGE_SIZE;
  }

  get mapLevel(): number {
    return 1;
  }

  get endPaddr(): Paddr {
    return this.paddr + PAGE_SIZE;
  }

  /** Always `REF_COUNT_UNIQUE` while the handle is alive. */
  get referenceCount(): number {
    this._check();
    return REF_COUNT_UNIQUE;
  }

  /** The metadata, read-only. */
  get meta(): MetaViewOf<M> {
    this._check();
    if (this._sys.checked) requireMeta(this._sys, this._w, this.paddr, lookupTypeId(this._sys, this._type), true);
    return (this._view ??= this._type._view(this, this._sys._mem, storageByte(this._w)) as MetaViewOf<M>);
  }

  /** The metadata, writable: a unique handle may change any field. */
  get metaMut(): MetaMutOf<M> {
    this._check();
    if (this._sys.checked) requireMeta(this._sys, this._w, this.paddr, lookupTypeId(this._sys, this._type), true);
    return (this._mut ??= this._type._mutView(this, this._sys._mem, storageByte(this._w)) as MetaMutOf<M>);
  }

  get metaType(): M {
    return this._type;
  }

  /**
   * Replaces the metadata with `meta`/`init` (the kernel's `repurpose`): the old type's `onDrop`
   * runs, the slot stays unique, this handle is consumed. A bad `init` throws `BadValue` first,
   * changing nothing. If the old `onDrop` throws, the frame is freed and the error rethrown.
   */
  repurpose<T extends AnyMeta>(meta: T, init?: InitOf<T>): UniqueFrame<T> {
    this._check();
    if (this._sys.checked) requireUnique(this._sys, this._w, this.paddr, 'repurpose_requires');
    meta._validate(init);
    const sys = this._sys;
    const typeId = typeIdOf(sys, meta);
    this._end();
    try {
      dropMetaInPlace(sys, this._w);
    } catch (e) {
      freeCleared(sys, this._w, this.paddr);
      throw e;
    }
    sys._mem.i32[this._w + S_TYPE] = typeId;
    meta._write(sys._mem, storageByte(this._w), init);
    return new UniqueFrame(sys, this._w, this.paddr, meta);
  }

  /** Turns this into a shared `Frame` with count 1; this handle is consumed. */
  intoFrame(): Frame<M> {
    this._check();
    if (this._sys.checked) requireUnique(this._sys, this._w, this.paddr, 'into_frame_requires');
    this._end();
    publish(this._sys, this._w, false);
    return new Frame(this._sys, this._w, this.paddr, this._type);
  }

  /** Forgets the handle; restore it with `UniqueFrame.fromRaw(sys, paddr, meta)`. */
  intoRaw(): Paddr {
    this._check();
    if (this._sys.checked) forgetChecked(this._sys, this._w, this.paddr, true);
    this._end();
    return this.paddr;
  }

  /** Drops the frame: `onDrop`, slot cleared, frame back to the allocator. */
  drop(): void {
    this._check();
    if (this._sys.checked) requireUnique(this._sys, this._w, this.paddr, 'drop_requires');
    this._end();
    dropUnique(this._sys, this._w, this.paddr, true);
  }

  [Symbol.dispose](): void {
    if (this._live) this.drop();
  }

  /**
   * Marks the frame unused without returning it to the allocator (the kernel's experimental
   * `reset_as_unused`, for allocators and tests): the caller keeps the raw frame.
   */
  resetAsUnused(): void {
    this._check();
    if (this._sys.checked) requireUnique(this._sys, this._w, this.paddr, 'reset_as_unused_requires');
    this._end();
    dropUnique(this._sys, this._w, this.paddr, false);
  }

  /** A zero-copy view of the frame's bytes (untyped only; `Typed` otherwise). */
  bytes(this: ByteAccess<M, UniqueFrame<M>>): Uint8Array {
    return bytesOf(this as UniqueFrame<M>);
  }

  /** A reader of the frame's bytes from its start (untyped only). */
  reader(this: ByteAccess<M, UniqueFrame<M>>): FrameReader {
    return readerOf(this as UniqueFrame<M>);
  }

  /** A writer of the frame's bytes from its start (untyped only). */
  writer(this: ByteAccess<M, UniqueFrame<M>>): FrameWriter {
    return writerOf(this as UniqueFrame<M>);
  }

  /** Sets every byte of the frame to `byte` (untyped only). */
  fill(this: ByteAccess<M, UniqueFrame<M>>, byte: number): void {
    fillOf(this as UniqueFrame<M>, byte);
  }

  /** @internal */
  _checkBytes(): void {
    this._check();
    checkBytes(this._type, this.paddr);
  }

  /** @internal */
  get _start(): Paddr {
    return this.paddr;
  }

  toString(): string {
    return `UniqueFrame(${hex(this.paddr)})`;
  }
}
