/**
 * Intrusive linked lists of unique frames, as the kernel's `linked_list`: the links live in the
 * frames' metadata slots, the head in the region's list table, so a list costs no memory per frame
 * and any worker can open it. A list owns its frames exclusively (they stay UNIQUE: `fromInUse`
 * reports `Unique`). This is the API half; the words, the journal and the repair after a death
 * are `region/lists.ts`'s.
 *
 * Each list has a lock with an owner token; a `CursorMut` holds it while it lives (the kernel's
 * `&mut` borrow), and list methods take it per call (re-entrant within the holding worker).
 */
import { FrameUseError, InvariantError, hex } from '../base/errors.js';
import { MAX_LISTS } from '../base/limits.js';
import { PAGE_SHIFT, PAGE_SIZE, checkPaddr, type Paddr } from '../base/units.js';
import { ensureListTag } from '../checked/contracts.js';
import {
  LINK_IN_LIST,
  LINK_NOT_UNIQUE,
  LINK_WRONG_TYPE,
  claimList,
  destroyList,
  holdsList,
  initList,
  linkFrame,
  linkRefusal,
  listBack,
  listFront,
  listGen,
  listIdOf,
  listSize,
  listTypeId,
  listedNext,
  listedPrev,
  lockList,
  unlinkFrame,
  unlockList,
} from '../region/lists.js';
import type { Region } from '../region/region.js';
import type { FrameContext } from './context.js';
import { FrameRef, type Lender } from './frame.js';
import { storageByte, slotWord } from '../region/meta.js';
import type { AnyMeta } from './meta-type.js';
import { checkHandle } from './handle.js';
import { checkMeta, lookupTypeId, typeById, typeIdOf } from './meta-type.js';
import { UniqueFrame, type MetaMutOf } from './unique.js';

/** What `LinkedList.open` needs: structured-cloneable. */
export interface LinkedListHandle {
  /** The list's id (1..MAX_LISTS). */
  readonly id: number;
  /** The generation of the list's entry: a handle of a destroyed list is refused. */
  readonly gen: number;
}

/**
 * An intrusive doubly linked list of unique frames, as the kernel's `linked_list`: the links live
 * in the frames' metadata slots and the head in the region, so a list costs no memory per frame
 * and any worker can open it (`LinkedList.open(sys, list.handle)`). The list owns its frames: they
 * stay unique while in it (`fromInUse` reports `Unique`). A `CursorMut` walks and edits it under
 * the list's lock; the other methods take the lock per call.
 *
 * @example
 * ```ts
 * const Entry = defineMeta('app.entry', { key: 'u32' });
 * const lru = LinkedList.create(sys, Entry);
 * const alloc = new FrameAllocOptions(sys);
 * for (const key of [1, 2, 3]) lru.pushFront(alloc.allocUnique(Entry, { key })); // most recent first
 * const evicted = lru.popBack()!; // the least recently used
 * console.log(evicted.meta.key, [...lru].map((ref) => ref.meta.key)); // 1 [ 3, 2 ]
 * evicted.drop();
 * lru.destroy(); // drops the frames still in it
 * ```
 */
export class LinkedList<M extends AnyMeta = AnyMeta> implements Iterable<FrameRef<M>>, Disposable {
  /** @internal */
  readonly _sys: FrameContext;
  /** The region, as the protocol's functions take it. */
  private readonly r: Region;

  private constructor(
    sys: FrameContext,
    /** 0-based entry index; the list's id is index + 1. */
    private readonly index: number,
    private readonly gen: number,
    /**
     * The metadata type of the list's frames: only unique frames of this type enter it.
     *
     * @example
     * ```ts
     * const list = LinkedList.create(sys, Untyped);
     * console.log(list.metaType === Untyped); // true
     * list.destroy();
     * ```
     */
    readonly metaType: M,
    /** Whether this object made the list (`create`): only then does `using` destroy it. */
    private readonly owner: boolean,
  ) {
    this._sys = sys;
    this.r = sys._region;
  }

  /**
   * A new empty list of frames of metadata type `meta`, its head in the region's list table
   * (`FrameUseError('TooManyLists')` past MAX_LISTS lists; `MetaTypeError` if the type cannot be
   * registered). Free it with `destroy`.
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * console.log(list.size, list.isEmpty); // 0 true
   * list.destroy();
   * ```
   */
  static create<M extends AnyMeta>(sys: FrameContext, meta: M): LinkedList<M> {
    sys._assertOpen();
    checkMeta(meta);
    const r = sys._region;
    const index = claimList(r);
    if (index < 0) throw new FrameUseError('TooManyLists', `the region already has ${MAX_LISTS} linked lists`);
    const gen = listGen(r, index);
    let typeId: number;
    try {
      typeId = typeIdOf(sys._region, meta); // registered only once an entry is ours: a refusal changes nothing
    } catch (err) {
      destroyList(r, index, gen);
      throw err;
    }
    initList(r, index, typeId);
    return new LinkedList(sys, index, gen, meta, true);
  }

  /**
   * Opens a list created elsewhere (another worker) from its `handle`; with `meta`, checks that it
   * holds frames of that type. `FrameUseError`: `BadValue` for a value that is no handle,
   * `Dropped` for a destroyed list, `WrongType`. The object needs no closing, and `using` on it
   * does nothing at the end of the scope (the list belongs to whoever created it); an explicit
   * `destroy()` on it destroys the list for everyone.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * const other = FrameSystem.attach(sys.handle); // as a worker would, with list.handle posted to it
   * const there = LinkedList.open(other, list.handle, Entry);
   * there.pushBack(new FrameAllocOptions(other).allocUnique(Entry, { key: 9 }));
   * console.log(list.size, [...list][0].meta.key); // 1 9
   * list.destroy();
   * other.close();
   * ```
   */
  static open<M extends AnyMeta = AnyMeta>(sys: FrameContext, handle: LinkedListHandle, meta?: M): LinkedList<M> {
    sys._assertOpen();
    if (handle === null || typeof handle !== 'object' || !Number.isInteger(handle.id) || handle.id < 1 || handle.id > MAX_LISTS) {
      throw new FrameUseError('BadValue', 'LinkedList.open needs the handle of a list (list.handle)');
    }
    const index = handle.id - 1;
    if (listGen(sys._region, index) !== handle.gen) {
      throw new FrameUseError('Dropped', `linked list ${handle.id} was destroyed`);
    }
    const typeId = listTypeId(sys._region, index);
    const type = typeById(sys._region, typeId);
    if (meta !== undefined) checkMeta(meta);
    if (meta !== undefined && lookupTypeId(sys._region, meta) !== typeId) {
      throw new FrameUseError('WrongType', `linked list ${handle.id} holds '${type.name}' frames, not '${meta.name}'`);
    }
    return new LinkedList(sys, index, handle.gen, (meta ?? type) as M, false);
  }

  /**
   * What another worker passes to `LinkedList.open` (structured-cloneable).
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * const { id, gen } = list.handle; // postMessage(list.handle) to a worker
   * console.log(id === list.id, LinkedList.open(sys, { id, gen }).size); // true 0
   * list.destroy();
   * ```
   */
  get handle(): LinkedListHandle {
    return { id: this.index + 1, gen: this.gen };
  }

  /**
   * The list's id (1..MAX_LISTS): what its frames' slots name as their list (the kernel's `in_list`).
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * console.log(list.id); // 1: the first list of the region
   * list.destroy();
   * ```
   */
  get id(): number {
    return this.index + 1;
  }

  /**
   * Frames in the list now (racy: other workers may push and pop). `Dropped` once destroyed.
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * list.pushBack(new FrameAllocOptions(sys).allocUnique(Untyped));
   * console.log(list.size); // 1
   * list.destroy();
   * ```
   */
  get size(): number {
    this.check();
    return listSize(this.r, this.index);
  }

  /**
   * Whether the list holds no frame now.
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * console.log(list.isEmpty); // true
   * list.destroy();
   * ```
   */
  get isEmpty(): boolean {
    return this.size === 0;
  }

  /**
   * Puts `frame` first; the handle is consumed (the list owns the frame). `FrameUseError`:
   * `WrongType` for a frame of another type, `InList` for a frame in a list, `NotHeld` for one
   * that is not unique, `BadValue` for one of another region, `Dropped` for a dead handle or a
   * destroyed list; then nothing changed.
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * const alloc = new FrameAllocOptions(sys);
   * const first = alloc.allocUnique(Untyped);
   * const paddr = first.paddr;
   * list.pushBack(alloc.allocUnique(Untyped));
   * list.pushFront(first);
   * console.log([...list][0].paddr === paddr); // true
   * list.destroy();
   * ```
   */
  pushFront(frame: UniqueFrame<M>): void {
    const taken = this.enter();
    try {
      this.insert(frame, listFront(this.r, this.index));
    } finally {
      if (taken) unlockList(this.r, this.index);
    }
  }

  /**
   * Puts `frame` last; the handle is consumed. Errors as `pushFront`.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * const alloc = new FrameAllocOptions(sys);
   * for (const key of [1, 2, 3]) list.pushBack(alloc.allocUnique(Entry, { key }));
   * console.log([...list].map((ref) => ref.meta.key)); // [ 1, 2, 3 ]
   * list.destroy();
   * ```
   */
  pushBack(frame: UniqueFrame<M>): void {
    const taken = this.enter();
    try {
      this.insert(frame, 0);
    } finally {
      if (taken) unlockList(this.r, this.index);
    }
  }

  /**
   * Takes the first frame out of the list, or null if it is empty: the caller owns it again.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const queue = LinkedList.create(sys, Entry);
   * const alloc = new FrameAllocOptions(sys);
   * for (const key of [1, 2]) queue.pushBack(alloc.allocUnique(Entry, { key }));
   * const first = queue.popFront()!; // first in, first out
   * console.log(first.meta.key, queue.size); // 1 1
   * first.drop();
   * queue.destroy();
   * ```
   */
  popFront(): UniqueFrame<M> | null {
    const taken = this.enter();
    try {
      return this.take(listFront(this.r, this.index));
    } finally {
      if (taken) unlockList(this.r, this.index);
    }
  }

  /**
   * Takes the last frame out of the list, or null if it is empty.
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * console.log(list.popBack()); // null
   * list.pushBack(new FrameAllocOptions(sys).allocUnique(Untyped));
   * list.popBack()?.drop();
   * list.destroy();
   * ```
   */
  popBack(): UniqueFrame<M> | null {
    const taken = this.enter();
    try {
      return this.take(listBack(this.r, this.index));
    } finally {
      if (taken) unlockList(this.r, this.index);
    }
  }

  /**
   * Whether the frame at `paddr` is in this list (false for any bad address).
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
   * const paddr = unique.paddr;
   * list.pushBack(unique);
   * console.log(list.contains(paddr), list.contains(paddr + 1)); // true false
   * list.destroy();
   * ```
   */
  contains(paddr: Paddr): boolean {
    this.check();
    return this.listed(paddr) !== 0;
  }

  /**
   * A cursor at the first frame (at the ghost position past the end if the list is empty). It
   * holds the list's lock until `release()` (or `using`): release it. Other workers wait for the
   * lock meanwhile; this worker's list calls go through.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * const alloc = new FrameAllocOptions(sys);
   * for (const key of [1, 2, 3]) list.pushBack(alloc.allocUnique(Entry, { key }));
   * const cursor = list.cursorFrontMut();
   * for (let meta = cursor.current; meta !== null; cursor.moveNext(), meta = cursor.current) meta.key *= 10;
   * cursor.release();
   * console.log([...list].map((ref) => ref.meta.key)); // [ 10, 20, 30 ]
   * list.destroy();
   * ```
   */
  cursorFrontMut(): CursorMut<M> {
    this.check();
    this.acquire();
    return new CursorMut(this, listFront(this.r, this.index));
  }

  /**
   * A cursor at the last frame (or the ghost position if the list is empty); holds the list's
   * lock until `release()`.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * const alloc = new FrameAllocOptions(sys);
   * for (const key of [1, 2]) list.pushBack(alloc.allocUnique(Entry, { key }));
   * const cursor = list.cursorBackMut();
   * console.log(cursor.current?.key); // 2
   * cursor.movePrev();
   * console.log(cursor.current?.key); // 1
   * cursor.release();
   * list.destroy();
   * ```
   */
  cursorBackMut(): CursorMut<M> {
    this.check();
    this.acquire();
    return new CursorMut(this, listBack(this.r, this.index));
  }

  /**
   * A cursor at the frame at `paddr`, or null if it is not in this list; holds the list's lock
   * until `release()`.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const lru = LinkedList.create(sys, Entry);
   * const alloc = new FrameAllocOptions(sys);
   * for (const key of [1, 2, 3]) lru.pushBack(alloc.allocUnique(Entry, { key }));
   * const hit = [...lru].find((ref) => ref.meta.key === 2)!.paddr;
   * const cursor = lru.cursorMutAt(hit)!; // touch key 2: move it to the front
   * lru.pushFront(cursor.takeCurrent()!);
   * cursor.release();
   * console.log([...lru].map((ref) => ref.meta.key)); // [ 2, 1, 3 ]
   * lru.destroy();
   * ```
   */
  cursorMutAt(paddr: Paddr): CursorMut<M> | null {
    this.check();
    if (this.listed(paddr) === 0) return null;
    this.acquire();
    const f = this.listed(paddr); // looked at again under the lock
    if (f === 0) {
      this.releaseLock();
      return null;
    }
    return new CursorMut(this, f);
  }

  /**
   * Borrowed references to the frames, front to back, read under the lock. Each stays valid while
   * its frame stays in this list.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * const alloc = new FrameAllocOptions(sys);
   * for (const key of [5, 6]) list.pushBack(alloc.allocUnique(Entry, { key }));
   * let sum = 0;
   * for (const ref of list) sum += ref.meta.key;
   * console.log(sum); // 11
   * list.destroy();
   * ```
   */
  [Symbol.iterator](): IterableIterator<FrameRef<M>> {
    const taken = this.enter();
    const refs: FrameRef<M>[] = [];
    try {
      const r = this.r;
      const id = this.id;
      for (let f = listFront(r, this.index); f !== 0; f = listedNext(r, f)) {
        const frame = f; // each getter keeps its own frame
        const paddr = (f - 1) * PAGE_SIZE;
        // The list lends its frame while the frame stays in it; it never shares it (it owns it).
        const lender: Lender<M> = {
          get _live() {
            return listIdOf(r, frame) === id;
          },
          _shareAgain(): never {
            throw new FrameUseError('InList', `frame ${hex(paddr)} is owned by linked list ${id}; it cannot be cloned`);
          },
        };
        refs.push(new FrameRef(this._sys, slotWord(this._sys._region, f - 1), paddr, this.metaType, lender));
        if (refs.length > this._sys.nframes) throw new InvariantError(`linked list ${id}`, 'broken links (a cycle)');
      }
    } finally {
      if (taken) unlockList(this.r, this.index);
    }
    return refs[Symbol.iterator]();
  }

  /**
   * Drops every frame of the list and frees the list's head; every handle of it, in every worker,
   * is then stale (`Dropped`). If an `onDrop` throws, the rest are dropped all the same and the
   * first error rethrown.
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * list.pushBack(new FrameAllocOptions(sys).allocUnique(Untyped));
   * list.destroy(); // the frame is dropped with it
   * try {
   *   list.popFront(); // a destroyed list refuses every use
   * } catch (e) {
   *   console.log((e as FrameUseError).code, sys.stats().used); // 'Dropped' 0
   * }
   * ```
   */
  destroy(): void {
    this.check();
    this.acquire();
    let error: unknown;
    let failed = false;
    try {
      for (;;) {
        const u = this.take(listFront(this.r, this.index));
        if (u === null) break;
        try {
          u.drop();
        } catch (e) {
          if (!failed) error = e;
          failed = true;
        }
      }
      destroyList(this.r, this.index, this.gen);
    } finally {
      this.releaseLock();
    }
    if (failed) throw error;
  }

  /**
   * `using` support: on the object `create` returned, `destroy()` if the list still exists (for
   * every worker); on one from `LinkedList.open`, nothing (the list is its creator's to destroy).
   *
   * @example
   * ```ts
   * {
   *   using list = LinkedList.create(sys, Untyped);
   *   list.pushBack(new FrameAllocOptions(sys).allocUnique(Untyped));
   * } // destroyed here, its frame dropped
   * console.log(sys.stats().used); // 0
   * ```
   */
  [Symbol.dispose](): void {
    if (this.owner && listGen(this.r, this.index) === this.gen) this.destroy();
  }

  /** `LinkedList(1)`, for logs. */
  toString(): string {
    return `LinkedList(${this.id})`;
  }

  /** @internal `Dropped` once the list was destroyed (by any worker). */
  check(): void {
    if (this._sys._closed) this._sys._assertOpen();
    if (listGen(this.r, this.index) !== this.gen) {
      throw new FrameUseError('Dropped', `linked list ${this.id} was destroyed`);
    }
  }

  /** The number of the frame at `paddr` if it is in this list, else 0 (also for a bad address). */
  private listed(paddr: Paddr): number {
    let index: number;
    try {
      index = checkPaddr(paddr, this._sys.maxPaddr);
    } catch {
      return 0;
    }
    return listIdOf(this.r, index + 1) === this.id ? index + 1 : 0;
  }

  /**
   * Takes the list's lock for one call, unless this worker holds it already (a cursor's: the
   * call then runs inside it). Whether it took it, so that the caller gives it back. `Dropped`
   * for a destroyed list, also one destroyed while this worker waited for the lock.
   */
  private enter(): boolean {
    this.check();
    if (holdsList(this.r, this.index)) return false;
    lockList(this.r, this.index);
    try {
      this.check(); // destroyed while we waited?
    } catch (e) {
      unlockList(this.r, this.index);
      throw e;
    }
    return true;
  }

  /** Takes the list's lock for a cursor (or `destroy`): refused if this worker holds it already. */
  private acquire(): void {
    if (holdsList(this.r, this.index)) {
      throw new FrameUseError('WouldBlock', `linked list ${this.id} already has a cursor in this worker: release it first`);
    }
    lockList(this.r, this.index);
  }

  /** @internal Gives a cursor's lock back. */
  releaseLock(): void {
    unlockList(this.r, this.index);
  }

  /**
   * @internal Links `frame` before frame number `next` (0: at the back) and consumes the handle;
   * the lock is held. Errors as `pushFront`, and then nothing changed.
   */
  insert(frame: UniqueFrame<M>, next: number): void {
    checkHandle(frame as unknown, UniqueFrame, 'a list item (only unique frames enter a list)');
    frame._check();
    const sys = this._sys;
    if (frame._sys._region.mem.u8.buffer !== sys._region.mem.u8.buffer || frame._sys.handle.offset !== sys.handle.offset) {
      throw new FrameUseError('BadValue', `${frame} belongs to another region`);
    }
    const f = (frame.paddr >>> PAGE_SHIFT) + 1;
    const refusal = linkRefusal(this.r, this.index, f);
    if (refusal === LINK_IN_LIST) {
      throw new FrameUseError('InList', `frame ${hex(frame.paddr)} is already in linked list ${listIdOf(this.r, f)}`);
    }
    if (refusal === LINK_WRONG_TYPE) {
      throw new FrameUseError('WrongType', `frame ${hex(frame.paddr)} holds '${frame.metaType.name}' metadata; ${this} holds '${this.metaType.name}'`);
    }
    if (refusal === LINK_NOT_UNIQUE) {
      throw new FrameUseError('NotHeld', `frame ${hex(frame.paddr)} is not unique: only unique frames enter a list`);
    }
    frame._end(); // the list owns it from here
    linkFrame(this.r, this.index, f, next);
    if (sys.checked) ensureListTag(sys._region, frame._w, frame.paddr, this.id, 'list_insert_ensures');
  }

  /**
   * @internal Takes frame number `f` out of the list (null for 0: none); the lock is held. The
   * caller owns the frame again.
   */
  take(f: number): UniqueFrame<M> | null {
    if (f === 0) return null;
    unlinkFrame(this.r, this.index, f);
    const w = slotWord(this._sys._region, f - 1);
    const paddr = (f - 1) * PAGE_SIZE;
    if (this._sys.checked) ensureListTag(this._sys._region, w, paddr, 0, 'list_take_ensures');
    return new UniqueFrame(this._sys, w, paddr, this.metaType);
  }
}

/**
 * A cursor over a `LinkedList` that may edit it, as the kernel's `CursorMut`: it points at a frame
 * or at the "ghost" position past the end (between the last frame and the first), reads and
 * writes the current frame's metadata, takes frames out and links frames in. It holds the list's
 * lock from `cursorFrontMut` / `cursorBackMut` / `cursorMutAt` until `release()` (or `using`).
 *
 * @example
 * ```ts
 * const Entry = defineMeta('app.entry', { key: 'u32' });
 * const list = LinkedList.create(sys, Entry);
 * const alloc = new FrameAllocOptions(sys);
 * for (const key of [1, 2, 3, 4]) list.pushBack(alloc.allocUnique(Entry, { key }));
 * const cursor = list.cursorFrontMut();
 * while (cursor.current !== null) {
 *   if (cursor.current.key % 2 === 0) cursor.takeCurrent()!.drop(); // moves on to the next
 *   else cursor.moveNext();
 * }
 * cursor.release();
 * console.log([...list].map((ref) => ref.meta.key)); // [ 1, 3 ]
 * list.destroy();
 * ```
 */
export class CursorMut<M extends AnyMeta = AnyMeta> implements Disposable {
  private view: MetaMutOf<M> | undefined;
  private released = false;
  /** The region, as the protocol's functions take it. */
  private readonly r: Region;
  /** The list's entry index (its id - 1). */
  private readonly index: number;

  /** @internal Made by `LinkedList`'s cursor methods, which took the list's lock for it. */
  constructor(
    private readonly list: LinkedList<M>,
    /** Frame index + 1 of the current frame; 0 at the ghost position. */
    private cur: number,
  ) {
    this.r = list._sys._region;
    this.index = list.id - 1;
  }

  /**
   * The current frame's metadata, writable (the list owns it), or null at the ghost position.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * list.pushBack(new FrameAllocOptions(sys).allocUnique(Entry, { key: 1 }));
   * const cursor = list.cursorFrontMut();
   * cursor.current!.key = 42;
   * cursor.moveNext(); // to the ghost
   * console.log(cursor.current, [...list][0].meta.key); // null 42
   * cursor.release();
   * list.destroy();
   * ```
   */
  get current(): MetaMutOf<M> | null {
    this.check();
    if (this.cur === 0) return null;
    if (this.view === undefined) {
      const f = this.cur;
      const r = this.r;
      const id = this.list.id;
      const owner = { paddr: (f - 1) * PAGE_SIZE, _sys: this.list._sys, get _live() { return listIdOf(r, f) === id; } };
      this.view = this.list.metaType._mutView(owner, r.mem, storageByte(slotWord(this.list._sys._region, f - 1))) as MetaMutOf<M>;
    }
    return this.view;
  }

  /**
   * The current frame's address, or null at the ghost position.
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
   * const paddr = unique.paddr;
   * list.pushBack(unique);
   * const cursor = list.cursorFrontMut();
   * console.log(cursor.currentPaddr === paddr); // true
   * cursor.release();
   * list.destroy();
   * ```
   */
  get currentPaddr(): Paddr | null {
    this.check();
    return this.cur === 0 ? null : (this.cur - 1) * PAGE_SIZE;
  }

  /**
   * Moves to the next frame (from the last one to the ghost; from the ghost to the first).
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * list.pushBack(new FrameAllocOptions(sys).allocUnique(Entry, { key: 7 }));
   * const cursor = list.cursorFrontMut();
   * cursor.moveNext(); // past the last: the ghost
   * cursor.moveNext(); // round to the first
   * console.log(cursor.current?.key); // 7
   * cursor.release();
   * list.destroy();
   * ```
   */
  moveNext(): void {
    this.check();
    this.moveTo(this.cur === 0 ? listFront(this.r, this.index) : listedNext(this.r, this.cur));
  }

  /**
   * Moves to the previous frame (from the first one to the ghost; from the ghost to the last).
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * const alloc = new FrameAllocOptions(sys);
   * for (const key of [1, 2]) list.pushBack(alloc.allocUnique(Entry, { key }));
   * const cursor = list.cursorFrontMut();
   * cursor.movePrev(); // before the first: the ghost
   * cursor.movePrev(); // round to the last
   * console.log(cursor.current?.key); // 2
   * cursor.release();
   * list.destroy();
   * ```
   */
  movePrev(): void {
    this.check();
    this.moveTo(this.cur === 0 ? listBack(this.r, this.index) : listedPrev(this.r, this.cur));
  }

  /**
   * Takes the current frame out of the list (the cursor moves to the next); null at the ghost.
   * The caller owns the frame again.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * const alloc = new FrameAllocOptions(sys);
   * for (const key of [1, 2]) list.pushBack(alloc.allocUnique(Entry, { key }));
   * const cursor = list.cursorFrontMut();
   * const taken = cursor.takeCurrent()!;
   * console.log(taken.meta.key, cursor.current?.key, list.size); // 1 2 1
   * taken.drop();
   * cursor.release();
   * list.destroy();
   * ```
   */
  takeCurrent(): UniqueFrame<M> | null {
    this.check();
    const f = this.cur;
    if (f === 0) return null;
    const next = listedNext(this.r, f);
    const frame = this.list.take(f);
    this.moveTo(next);
    return frame;
  }

  /**
   * Links `frame` before the current frame (at the ghost: at the back); the cursor stays. The
   * handle is consumed. Errors as `LinkedList.pushFront`.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * const alloc = new FrameAllocOptions(sys);
   * for (const key of [1, 3]) list.pushBack(alloc.allocUnique(Entry, { key }));
   * const cursor = list.cursorBackMut(); // at 3
   * cursor.insertBefore(alloc.allocUnique(Entry, { key: 2 }));
   * cursor.release();
   * console.log([...list].map((ref) => ref.meta.key)); // [ 1, 2, 3 ]
   * list.destroy();
   * ```
   */
  insertBefore(frame: UniqueFrame<M>): void {
    this.check();
    this.list.insert(frame, this.cur);
  }

  /**
   * The list this cursor walks (its methods may be called while the cursor holds the lock).
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * const cursor = list.cursorFrontMut();
   * console.log(cursor.asList() === list, cursor.asList().size); // true 0
   * cursor.release();
   * list.destroy();
   * ```
   */
  asList(): LinkedList<M> {
    this.check();
    return this.list;
  }

  /**
   * Gives the list's lock back; the cursor is then unusable (`Dropped`). Idempotent.
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * const cursor = list.cursorFrontMut();
   * cursor.release(); // other workers may use the list again
   * try {
   *   cursor.moveNext();
   * } catch (e) {
   *   console.log((e as FrameUseError).code); // 'Dropped'
   * }
   * list.destroy();
   * ```
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.list.releaseLock();
  }

  /**
   * `using` support: `release()`.
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * {
   *   using cursor = list.cursorFrontMut();
   *   cursor.insertBefore(new FrameAllocOptions(sys).allocUnique(Untyped));
   * } // released here
   * console.log(list.size); // 1
   * list.destroy();
   * ```
   */
  [Symbol.dispose](): void {
    this.release();
  }

  private moveTo(f: number): void {
    this.cur = f;
    this.view = undefined;
  }

  private check(): void {
    if (this.released) throw new FrameUseError('Dropped', 'the cursor was released');
    this.list.check();
  }
}
