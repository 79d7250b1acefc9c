/**
 * `Frame<M>`: a reference-counted handle to one frame, as the kernel's `Frame<M>`. The count
 * lives in the frame's metadata slot in shared memory, so handles in every worker add up; the
 * last `drop`, wherever it happens, runs `onDrop` and returns the frame to the allocator.
 */
import { FrameUseError, hex } from '../errors.js';
import { PAGE_SIZE, S_TYPE } from '../layout.js';
import type { FrameSystem } from '../system.js';
import { FrameRef, type MetaViewOf } from './frame-ref.js';
import { checkPaddr, type Paddr } from './mapping.js';
import {
  dropRef,
  getFromInUse,
  getFromUnused,
  incRef,
  loadRefCount,
  slotWord,
  storageByte,
  takeForgotten,
  checkRawHeld,
} from './meta.js';
import type { AnyMeta, MetaInit, MetaType, Schema } from './meta-type.js';
import { lookupTypeId, typeById } from './registry.js';
import type { FrameReader, FrameWriter } from './io.js';
import { forgetChecked, requireMeta, requirePaddr } from '../checked/contracts.js';
import { bytesOf, checkBytes, fillOf, readerOf, writerOf, type ByteAccess } from './untyped.js';

/** The initial-metadata type of a metadata type. */
export type InitOf<M extends AnyMeta> = M extends MetaType<infer S, boolean> ? MetaInit<S> : MetaInit<Schema>;

export class Frame<M extends AnyMeta = AnyMeta> implements Disposable {
  /** @internal False once dropped or consumed. */
  _live = true;
  /** @internal */
  _view: MetaViewOf<M> | undefined = undefined;

  /** @internal Use the static constructors or `FrameAllocOptions`. */
  constructor(
    /** @internal */ readonly _sys: FrameSystem,
    /** @internal Word index of the frame's slot. */ readonly _w: number,
    /** The frame's physical address; stays readable after the handle is dropped or consumed. */
    readonly paddr: Paddr,
    /** @internal */ readonly _type: M,
  ) {
    if (_sys._leaks !== undefined) {
      requirePaddr(_sys, paddr);
      _sys._leaks.track(this, 'Frame', paddr, 1, _type.name);
    }
  }

  /** @internal Ends the handle: dropped, or its reference moved elsewhere. */
  _end(): void {
    this._live = false;
    this._sys._leaks?.untrack(this);
  }

  /**
   * Gets a frame from a raw, unused page with metadata `meta` initialised from `init` (the
   * kernel's `from_unused`). Throws `GetFrameError` (`NotAligned`, `OutOfBound`, `InUse`,
   * `Busy`, `Unique`) or, for a bad `init`, `FrameUseError('BadValue')`; then nothing changed.
   *
   * It claims the slot only: use it for frames you own raw (from `sys.allocator.alloc`, or left
   * by `resetAsUnused`), not for frames that are free in the allocator.
   */
  static fromUnused<M extends AnyMeta>(sys: FrameSystem, paddr: Paddr, meta: M, init?: InitOf<M>): Frame<M> {
    sys._assertOpen();
    const w = getFromUnused(sys, paddr, meta, init, false);
    return new Frame(sys, w, paddr, meta);
  }

  /**
   * Gets a new reference to a frame in use (the kernel's `from_in_use`): +1 reference.
   * Throws `GetFrameError` (`Unused`, `Unique`, `Busy`, `NotAligned`, `OutOfBound`).
   * Use `tryAs` to get back the static type.
   */
  static fromInUse(sys: FrameSystem, paddr: Paddr): Frame<AnyMeta> {
    sys._assertOpen();
    const w = getFromInUse(sys, paddr);
    return new Frame(sys, w, paddr, typeById(sys, sys._mem.i32[w + S_TYPE]));
  }

  /**
   * Restores a handle forgotten with `intoRaw` (the kernel's `from_raw`), taking over its
   * reference. With `meta`, the frame must be of that type (`WrongType` otherwise).
   *
   * Each forgotten reference may be restored once. In checked mode a `fromRaw` with no matching
   * `intoRaw` (or a second one) is a `ContractError('from_raw_requires')`; in every mode a frame
   * that nobody holds is `FrameUseError('NotHeld')`.
   */
  static fromRaw<M extends AnyMeta = AnyMeta>(sys: FrameSystem, paddr: Paddr, meta?: M): Frame<M> {
    sys._assertOpen();
    const w = slotWord(sys, checkPaddr(paddr, sys.maxPaddr));
    checkRawHeld(sys, w, paddr, false);
    const type = resolveType(sys, w, paddr, meta);
    if (sys.checked) takeForgotten(sys, w, paddr);
    return new Frame(sys, w, paddr, type as M);
  }

  /** @internal */
  _check(): void {
    if (!this._live) throw dead('Frame', this.paddr);
  }

  /** @internal Marks this handle consumed (its reference moved elsewhere). */
  _consume(): void {
    this._check();
    this._end();
  }

  /** Bytes in the frame: PAGE_SIZE. */
  get size(): number {
    return PAGE_SIZE;
  }

  /** The level of the page table entry that would map this frame: always 1 (a base page). */
  get mapLevel(): number {
    return 1;
  }

  /** The address just past the frame. */
  get endPaddr(): Paddr {
    return this.paddr + PAGE_SIZE;
  }

  /**
   * The number of references to the frame in all workers, now. Racy by nature: another worker
   * may change it right after.
   */
  get referenceCount(): number {
    this._check();
    return loadRefCount(this._sys, this._w);
  }

  /** The frame's metadata, read live from shared memory. Read-only except atomic fields. */
  get meta(): MetaViewOf<M> {
    this._check();
    if (this._sys.checked) requireMeta(this._sys, this._w, this.paddr, lookupTypeId(this._sys, this._type), false);
    return (this._view ??= this._type._view(this, this._sys._mem, storageByte(this._w)) as MetaViewOf<M>);
  }

  /** The frame's metadata type. */
  get metaType(): M {
    return this._type;
  }

  /** A new handle to the same frame: +1 reference. `Overflow` past REF_COUNT_MAX. */
  clone(): Frame<M> {
    this._check();
    incRef(this._sys, this._w, this.paddr);
    return new Frame(this._sys, this._w, this.paddr, this._type);
  }

  /**
   * Drops this handle's reference. The last drop runs `onDrop`, clears the slot and returns the
   * frame to the allocator. A second `drop` is `FrameUseError('Dropped')`.
   */
  drop(): void {
    this._check();
    this._end();
    dropRef(this._sys, this._w, this.paddr);
  }

  /** `using` support: drops the handle if it is still alive (a consumed handle is left alone). */
  [Symbol.dispose](): void {
    if (this._live) this.drop();
  }

  /** Borrows the frame without touching the reference count. */
  borrow(): FrameRef<M> {
    this._check();
    return new FrameRef(this._sys, this._w, this.paddr, this._type, this);
  }

  /**
   * Forgets the handle, leaving its reference in the frame (the kernel's `into_raw`). Restore it
   * with `Frame.fromRaw(sys, paddr)`, here or in another worker.
   */
  intoRaw(): Paddr {
    this._check();
    if (this._sys.checked) forgetChecked(this._sys, this._w, this.paddr, false);
    this._end();
    return this.paddr;
  }

  /**
   * Converts to a handle of metadata type `meta` if the frame is of that type (the kernel's
   * `TryFrom<Frame<dyn AnyFrameMeta>>`): this handle is consumed on success; on failure it returns
   * null and this handle stays as it was.
   */
  tryAs<T extends AnyMeta>(meta: T): Frame<T> | null {
    this._check();
    if (this._sys._mem.i32[this._w + S_TYPE] !== lookupTypeId(this._sys, meta)) return null;
    this._end();
    return new Frame(this._sys, this._w, this.paddr, meta);
  }

  /** A zero-copy view of the frame's bytes (untyped only; `Typed` otherwise). */
  bytes(this: ByteAccess<M, Frame<M>>): Uint8Array {
    return bytesOf(this as Frame<M>);
  }

  /** A reader of the frame's bytes from its start (untyped only). */
  reader(this: ByteAccess<M, Frame<M>>): FrameReader {
    return readerOf(this as Frame<M>);
  }

  /** A writer of the frame's bytes from its start (untyped only). */
  writer(this: ByteAccess<M, Frame<M>>): FrameWriter {
    return writerOf(this as Frame<M>);
  }

  /** Sets every byte of the frame to `byte` (untyped only). */
  fill(this: ByteAccess<M, Frame<M>>, byte: number): void {
    fillOf(this as Frame<M>, byte);
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
    return `Frame(${hex(this.paddr)})`;
  }
}

/** The error for any use of a dropped or consumed handle. */
export function dead(kind: string, paddr: Paddr): FrameUseError {
  return new FrameUseError('Dropped', `${kind}(${hex(paddr)}) was dropped or consumed`);
}

/** The type of the slot at `w`, checked against `meta` when given (`WrongType` otherwise). */
export function resolveType(sys: FrameSystem, w: number, paddr: Paddr, meta: AnyMeta | undefined): AnyMeta {
  const id = sys._mem.i32[w + S_TYPE];
  if (meta === undefined) return typeById(sys, id);
  if (lookupTypeId(sys, meta) !== id) {
    const actual = id === 0 ? 'none' : typeById(sys, id).name;
    throw new FrameUseError('WrongType', `frame ${hex(paddr)} holds '${actual}' metadata, not '${meta.name}'`);
  }
  return meta;
}
