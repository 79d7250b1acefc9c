/**
 * `FrameRef`: a borrowed reference to a frame, as the kernel's `FrameRef<'a, M>`. It reads like
 * the frame it borrows but never touches the reference count, and is valid only while that frame
 * handle is alive (or, in `onDrop`, while the callback runs).
 */
import { FrameUseError, hex } from '../base/errors.js';
import { PAGE_SIZE } from '../base/units.js';
import type { FrameContext } from './context.js';
import { Frame } from './frame.js';
import type { Paddr } from '../base/units.js';
import { loadRefCount, type SlotHost } from './meta.js';
import { incRef, storageByte } from '../region/meta.js';
import type { AnyMeta, MetaType, MetaView, Schema } from './meta-type.js';
import type { FrameReader } from './io.js';
import { bytesOf, checkBytes, readerOf, type ByteAccess } from './untyped.js';

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
export class FrameRef<M extends AnyMeta = AnyMeta> {
  /** @internal */
  _view: MetaViewOf<M> | undefined = undefined;
  /** @internal Whether a transient (onDrop) reference is still valid. */
  private _valid = true;

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
    /** @internal The borrowed handle, or null for the reference `onDrop` gets. */
    private readonly _frame: { readonly _live: boolean } | null,
  ) {}

  /** @internal The reference passed to `onDrop`: valid until the callback returns. */
  static _transient<M extends AnyMeta>(sys: SlotHost, w: number, paddr: Paddr, type: M): FrameRef<M> {
    return new FrameRef(sys as FrameContext, w, paddr, type, null);
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
   * The frame's metadata type.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * console.log(frame.borrow().metaType === Untyped); // true
   * frame.drop();
   * ```
   */
  get metaType(): M {
    return this._type;
  }

  /**
   * Bytes in the frame: PAGE_SIZE.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * console.log(frame.borrow().size); // 4096
   * frame.drop();
   * ```
   */
  get size(): number {
    return PAGE_SIZE;
  }

  /**
   * The reference count now (racy: other workers may change it at any time). A borrow adds none.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const ref = frame.borrow();
   * const copy = ref.clone();
   * console.log(ref.referenceCount); // 2
   * copy.drop();
   * frame.drop();
   * ```
   */
  get referenceCount(): number {
    this._check();
    return loadRefCount(this._sys, this._w);
  }

  /**
   * A new shared handle to the frame (+1 reference). Not allowed in `onDrop` (the frame is being
   * freed: `Dropped`) nor on a frame borrowed from a linked list (it is unique: `NotHeld`).
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
    if (this._frame === null) {
      throw new FrameUseError('Dropped', `frame ${hex(this.paddr)} is being dropped; it cannot be cloned`);
    }
    if (!(this._frame instanceof Frame)) {
      // Borrowed from a list: the frame is unique; refuse before touching its count.
      throw new FrameUseError('NotHeld', `frame ${hex(this.paddr)} is unique (owned by a linked list); it cannot be cloned`);
    }
    incRef(this._sys._region, this._w, this.paddr);
    return new Frame(this._sys, this._w, this.paddr, this._type);
  }

  /**
   * A zero-copy view of the frame's bytes (untyped frames only, as `Frame.bytes`).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.borrow().bytes().fill(3, 0, 2);
   * console.log(frame.bytes().subarray(0, 3)); // Uint8Array(3) [ 3, 3, 0 ]
   * frame.drop();
   * ```
   */
  bytes(this: ByteAccess<M, FrameRef<M>>): Uint8Array {
    return bytesOf(this as FrameRef<M>);
  }

  /**
   * A reader of the frame's bytes (untyped frames only): how `onDrop` reads the contents.
   *
   * @example
   * ```ts
   * const Note = defineMeta('app.note', { len: 'u16' }, {
   *   untyped: true,
   *   onDrop: (meta, frame) => console.log(new TextDecoder().decode(frame.reader().read(meta.len))), // bye
   * });
   * const note = sys.allocFrame(Note, { len: 3 });
   * note.writer().write(new TextEncoder().encode('bye'));
   * note.drop();
   * ```
   */
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

  /** `FrameRef(0x3000)`, for logs. */
  toString(): string {
    return `FrameRef(${hex(this.paddr)})`;
  }
}
