/**
 * `FrameHandle<M>`: what every handle shares (`Frame`, `UniqueFrame`, `FrameRef`, `Segment`):
 * liveness and its end, the `Dropped` error, checked mode's leak tracking, and the byte access of
 * untyped handles (`bytes`, `reader`, `writer`, `fill`). And `SingleFrameHandle<M>`, what the
 * handles of one frame share besides (`Frame`, `UniqueFrame`, `FrameRef`): the address, size, map
 * level and reference count of the frame.
 *
 * Both hold behaviour only: no field and no constructor. Each handle class declares its own fields
 * and, in its constructor, calls `_track` when `_sys._leaks` is defined. The reason is speed: V8
 * (Node 20) does not optimise away the allocation of an object whose base class has a constructor
 * or fields (in a micro-benchmark, 6 to 25 ns a `new` against about 1 ns with an empty base), and a
 * `Frame` is made and dropped on the hottest path.
 */
import { describe } from '../base/args.js';
import { FrameUseError, hex } from '../base/errors.js';
import { PAGE_SIZE, type Paddr } from '../base/units.js';
import { REF_COUNT_UNIQUE } from '../base/limits.js';
import { INSPECT, inspectSafely } from '../base/inspect.js';
import { requirePaddr } from '../checked/contracts.js';
import type { LeakTracker } from '../checked/leaks.js';
import type { FrameContext } from './context.js';
import { FrameReader, FrameWriter } from './io.js';
import { loadRefCount } from './meta.js';
import type { AnyMeta } from './meta-type.js';
import { checkBytes, fillBytes, frameBytes, type ByteAccess } from './untyped.js';

/**
 * What every handle shares: `Frame`, `UniqueFrame`, `FrameRef` and `Segment` are handles. A
 * handle covers `size` bytes of frames with metadata type `M`; once dropped or consumed it refuses
 * every use (`FrameUseError('Dropped')`) but its addresses. Untyped handles expose their bytes.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * const seg = sys.allocSegment(2);
 * const handles: FrameHandle[] = [frame, seg, frame.borrow()];
 * for (const h of handles) h.fill(1); // any untyped handle, whatever its kind
 * console.log(handles.map((h) => h.size)); // [ 4096, 8192, 4096 ]
 * frame.drop();
 * seg.drop();
 * ```
 */
export abstract class FrameHandle<M extends AnyMeta = AnyMeta> {
  /** @internal The region's context. */
  abstract readonly _sys: FrameContext;
  /** @internal The metadata type. */
  abstract readonly _type: M;
  /** @internal False once dropped or consumed (a borrow: once what it borrows from is). */
  abstract _live: boolean;

  /** @internal The handle's class, as messages and leak reports name it. */
  abstract get _kind(): string;

  /** @internal The address of the first frame. */
  abstract get _start(): Paddr;

  /**
   * Bytes the handle covers: PAGE_SIZE for a frame, `nframes * PAGE_SIZE` for a segment.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const seg = sys.allocSegment(3);
   * console.log(frame.size, seg.size); // 4096 12288
   * frame.drop();
   * seg.drop();
   * ```
   */
  abstract get size(): number;

  /**
   * @internal Checked mode: the leak tracker reports the handle if it is collected before
   * `_end()`. The constructor of each handle that holds references calls it, once its fields are
   * set, as `if (_sys._leaks !== undefined) this._track(_sys._leaks)`: unchecked, that one check is
   * all tracking costs.
   */
  _track(leaks: LeakTracker): void {
    leaks.track(this);
  }

  /** @internal Ends the handle: dropped, or its references moved elsewhere. */
  _end(): void {
    this._live = false;
    this._sys._leaks?.untrack(this);
  }

  /**
   * @internal Throws `Closed` once its system was closed in this worker, `Dropped` unless the
   * handle is alive.
   */
  _check(): void {
    if (this._sys._closed) this._sys._assertOpen();
    if (!this._live) throw dead(this._kind, this._start);
  }

  /**
   * @internal What `console.log(handle)` shows (Node, Deno, Bun): one line, e.g.
   * `Frame(0x3000, count 2, app.page)`, `Segment(0x3000..0x7000, 4 frames, pageframe.untyped)`,
   * `Frame(0x3000, dropped, app.page)`, never the region behind it.
   */
  [INSPECT](): string {
    return inspectSafely(
      () => `${this._describeRange()}, ${this._sys._closed ? 'system closed' : !this._live ? 'dropped' : this._describeState()}, ${this._type.name})`,
      () => this.toString(),
    );
  }

  /** @internal `Frame(0x3000` or `Segment(0x3000..0x7000`: the kind and the address, unclosed. */
  abstract _describeRange(): string;

  /** @internal The live handle's state, for `[INSPECT]`: `count 2`, `unique`, `4 frames`. */
  abstract _describeState(): string;

  /** @internal Marks this handle consumed (its references moved elsewhere). */
  _consume(): void {
    this._check();
    this._end();
  }

  /**
   * The metadata type of the handle's frames (for a segment restored without a type, of its
   * first frame). Readable after the handle is dropped.
   *
   * @example
   * ```ts
   * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
   * const page = sys.allocFrame(PageMeta, { owner: 1 });
   * const seg = sys.allocSegment(2);
   * console.log(page.metaType === PageMeta, seg.metaType.name); // true pageframe.untyped
   * page.drop();
   * seg.drop();
   * ```
   */
  get metaType(): M {
    return this._type;
  }

  /**
   * A zero-copy view of the handle's bytes in shared memory (a segment's: all of them, across its
   * frames): what one worker writes, another reads. Untyped handles only: a type error on a typed
   * one, and `FrameUseError('Typed')` at run time through `AnyMeta`. Do not keep the view past
   * the handle's drop.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const bytes = frame.bytes();
   * bytes.set([1, 2, 3]);
   * console.log(frame.bytes()[2], bytes.length); // 3 4096
   * frame.drop();
   * const seg = sys.allocSegment(2);
   * seg.bytes()[PAGE_SIZE] = 1; // the first byte of the second frame
   * const [first, second] = [...seg]; // the segment's references, a frame each
   * console.log(first.bytes()[0], second.bytes()[0]); // 0 1
   * first.drop();
   * second.drop();
   * ```
   */
  bytes(this: ByteAccess<M, FrameHandle<M>>): Uint8Array {
    const h = this as FrameHandle<M>;
    h._checkBytes();
    return frameBytes(h._sys, h._start, h.size);
  }

  /**
   * A reader of the handle's bytes from its start (untyped only, as `bytes`): how `onDrop` reads
   * the contents of the frame it gets.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeU32(7).writeF64(0.5);
   * const r = frame.reader();
   * console.log(r.readU32(), r.readF64(), r.remain); // 7 0.5 4084
   * frame.drop();
   * const Note = defineMeta('app.note', { len: 'u16' }, {
   *   untyped: true,
   *   onDrop: (meta, ref) => console.log(new TextDecoder().decode(ref.reader().read(meta.len))), // bye
   * });
   * const note = sys.allocFrame(Note, { len: 3 });
   * note.writer().write(new TextEncoder().encode('bye'));
   * note.drop();
   * ```
   */
  reader(this: ByteAccess<M, FrameHandle<M>>): FrameReader {
    const h = this as FrameHandle<M>;
    h._checkBytes();
    return new FrameReader({ paddr: h._start, _sys: h._sys, get _live() { return h._live; } }, h._sys, h._start, h.size);
  }

  /**
   * A writer of the handle's bytes from its start (untyped only, as `bytes`); in a segment,
   * writes may cross frames.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const w = frame.writer().writeU16(513).write(new Uint8Array([9]));
   * console.log(w.avail, frame.bytes().subarray(0, 3)); // 4093 Uint8Array(3) [ 1, 2, 9 ]
   * frame.drop();
   * const seg = sys.allocSegment(2);
   * seg.writer().skip(PAGE_SIZE - 2).writeU32(0x04030201);
   * console.log(seg.bytes().subarray(PAGE_SIZE - 2, PAGE_SIZE + 2)); // Uint8Array(4) [ 1, 2, 3, 4 ]
   * seg.drop();
   * ```
   */
  writer(this: ByteAccess<M, FrameHandle<M>>): FrameWriter {
    const h = this as FrameHandle<M>;
    h._checkBytes();
    return new FrameWriter({ paddr: h._start, _sys: h._sys, get _live() { return h._live; } }, h._sys, h._start, h.size);
  }

  /**
   * Sets every byte of the handle to `byte` (untyped only, as `bytes`; `FrameUseError('BadValue')`
   * for a value outside 0..255).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.fill(0xab);
   * console.log(frame.bytes()[0], frame.bytes()[4095]); // 171 171
   * frame.drop();
   * const seg = sys.allocSegment(16); // 64 KiB
   * seg.fill(7);
   * console.log(seg.bytes()[seg.size - 1]); // 7
   * seg.drop();
   * ```
   */
  fill(this: ByteAccess<M, FrameHandle<M>>, byte: number): void {
    const h = this as FrameHandle<M>;
    h._checkBytes();
    fillBytes(h._sys, h._start, h.size, byte);
  }

  /** @internal Throws `Dropped` or `Typed` unless the handle's bytes may be touched. */
  _checkBytes(): void {
    this._check();
    checkBytes(this._type, this._start);
  }
}

/**
 * What the handles of one frame share (`Frame`, `UniqueFrame`, `FrameRef`), besides what every
 * handle does: the frame's address, size, map level and reference count.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
 * const handles: SingleFrameHandle[] = [frame, frame.borrow(), unique];
 * console.log(handles.map((h) => h.endPaddr - h.paddr)); // [ 4096, 4096, 4096 ]
 * console.log(String(handles[1]).startsWith('FrameRef(')); // true
 * frame.drop();
 * unique.drop();
 * ```
 */
export abstract class SingleFrameHandle<M extends AnyMeta = AnyMeta> extends FrameHandle<M> {
  /** @internal Word index of the frame's slot. */
  abstract readonly _w: number;

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
  abstract readonly paddr: Paddr;

  /** @internal Checked mode: also the frame's address (`start_paddr_requires`). */
  override _track(leaks: LeakTracker): void {
    requirePaddr(this._sys._region, this.paddr);
    super._track(leaks);
  }

  /** @internal */
  get _start(): Paddr {
    return this.paddr;
  }

  /**
   * Bytes in the frame: PAGE_SIZE.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * console.log(frame.size, frame.borrow().size); // 4096 4096
   * frame.drop();
   * ```
   */
  get size(): number {
    return PAGE_SIZE;
  }

  /**
   * The level of the page table entry that would map this frame: always 1 (a base page).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * console.log(frame.mapLevel); // 1
   * frame.drop();
   * ```
   */
  get mapLevel(): number {
    return 1;
  }

  /**
   * The address just past the frame: `paddr + PAGE_SIZE`.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * console.log(frame.endPaddr - frame.paddr); // 4096
   * frame.drop();
   * ```
   */
  get endPaddr(): Paddr {
    return this.paddr + PAGE_SIZE;
  }

  /**
   * The number of references to the frame in all workers, now. Racy by nature: another worker
   * may change it right after. A borrow (`FrameRef`) adds none; a `UniqueFrame` reads
   * `REF_COUNT_UNIQUE`.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const ref = frame.borrow();
   * const copy = ref.clone();
   * console.log(frame.referenceCount, ref.referenceCount); // 2 2
   * copy.drop();
   * console.log(frame.referenceCount); // 1
   * frame.drop();
   * ```
   */
  get referenceCount(): number {
    this._check();
    return loadRefCount(this._sys, this._w);
  }

  /** @internal */
  _describeRange(): string {
    return `${this._kind}(${hex(this.paddr)}`;
  }

  /** @internal */
  _describeState(): string {
    const count = this.referenceCount;
    return count === REF_COUNT_UNIQUE ? 'unique' : `count ${count}`;
  }

  /** `Frame(0x3000)`, `UniqueFrame(0x3000)` or `FrameRef(0x3000)`, for logs. */
  override toString(): string {
    return `${this._kind}(${hex(this.paddr)})`;
  }
}

/** The error for any use of a dropped or consumed handle. */
export function dead(kind: string, paddr: Paddr): FrameUseError {
  return new FrameUseError('Dropped', `${kind}(${hex(paddr)}) was dropped or consumed`);
}

/**
 * Refuses an argument that is not a handle of the class expected (`Frame`, `UniqueFrame`,
 * `Segment`, ...): `FrameUseError('BadValue')`, never a raw `TypeError`.
 */
export function checkHandle<T>(value: unknown, cls: abstract new (...args: never[]) => T, what: string): asserts value is T {
  if (!(value instanceof cls)) throw new FrameUseError('BadValue', `${what} must be a ${cls.name}, not ${describe(value)}`);
}
