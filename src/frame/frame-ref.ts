/**
 * `FrameRef`: a borrowed reference to a frame, as the kernel's `FrameRef<'a, M>`. It reads like
 * the frame it borrows but never touches the reference count, and is valid only while that frame
 * handle is alive (or, in `onDrop`, while the callback runs).
 */
import { FrameUseError, hex } from '../errors.js';
import { PAGE_SIZE } from '../layout.js';
import type { FrameSystem } from '../system.js';
import { Frame } from './frame.js';
import type { Paddr } from './mapping.js';
import { incRef, loadRefCount, storageByte, type SlotHost } from './meta.js';
import type { AnyMeta, MetaType, MetaView, Schema } from './meta-type.js';
import type { FrameReader } from './io.js';
import { bytesOf, checkBytes, readerOf, type ByteAccess } from './untyped.js';

/** The read-only metadata view type of a metadata type. */
export type MetaViewOf<M extends AnyMeta> = M extends MetaType<infer S, boolean> ? MetaView<S> : MetaView<Schema>;

export class FrameRef<M extends AnyMeta = AnyMeta> {
  /** @internal */
  _view: MetaViewOf<M> | undefined = undefined;
  /** @internal Whether a transient (onDrop) reference is still valid. */
  private _valid = true;

  /** @internal Use `frame.borrow()`. */
  constructor(
    /** @internal */ readonly _sys: FrameSystem,
    /** @internal */ readonly _w: number,
    readonly paddr: Paddr,
    /** @internal */ readonly _type: M,
    /** @internal The borrowed handle, or null for the reference `onDrop` gets. */
    private readonly _frame: { readonly _live: boolean } | null,
  ) {}

  /** @internal The reference passed to `onDrop`: valid until the callback returns. */
  static _transient<M extends AnyMeta>(sys: SlotHost, w: number, paddr: Paddr, type: M): FrameRef<M> {
    return new FrameRef(sys as FrameSystem, w, paddr, type, null);
  }

  /** @internal */
  get _live(): boolean {
    return this._frame === null ? this._valid : this._frame._live;
  }

  /** @internal */
  _expire(): void {
    this._valid = false;
  }

  /** @internal */
  _check(): void {
    if (!this._live) {
      throw new FrameUseError('Dropped', `FrameRef(${hex(this.paddr)}) used after its frame was dropped`);
    }
  }

  /** The frame's metadata (read-only, live in shared memory). */
  get meta(): MetaViewOf<M> {
    this._check();
    return (this._view ??= this._type._view(this, this._sys._mem, storageByte(this._w)) as MetaViewOf<M>);
  }

  /** The frame's metadata type. */
  get metaType(): M {
    return this._type;
  }

  /** Bytes in the frame: PAGE_SIZE. */
  get size(): number {
    return PAGE_SIZE;
  }

  /** The reference count now (racy: other workers may change it at any time). */
  get referenceCount(): number {
    this._check();
    return loadRefCount(this._sys, this._w);
  }

  /** A new shared handle to the frame (+1 reference). Not allowed in `onDrop`. */
  clone(): Frame<M> {
    this._check();
    if (this._frame === null) {
      throw new FrameUseError('Dropped', `frame ${hex(this.paddr)} is being dropped; it cannot be cloned`);
    }
    if (!(this._frame instanceof Frame)) {
      // Borrowed from a list: the frame is unique; refuse before touching its count.
      throw new FrameUseError('NotHeld', `frame ${hex(this.paddr)} is unique (owned by a linked list); it cannot be cloned`);
    }
    incRef(this._sys, this._w, this.paddr);
    return new Frame(this._sys, this._w, this.paddr, this._type);
  }

  /** A zero-copy view of the frame's bytes (untyped frames only). */
  bytes(this: ByteAccess<M, FrameRef<M>>): Uint8Array {
    return bytesOf(this as FrameRef<M>);
  }

  /** A reader of the frame's bytes (untyped frames only): how `onDrop` reads the contents. */
  reader(this: ByteAccess<M, FrameRef<M>>): FrameReader {
    return readerOf(this as FrameRef<M>);
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
    return `FrameRef(${hex(this.paddr)})`;
  }
}
