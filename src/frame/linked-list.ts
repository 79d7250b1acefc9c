/**
 * Intrusive linked lists of unique frames, as the kernel's `linked_list`: the links live in the
 * frames' metadata slots, the head in the region's list table, so a list costs no memory per frame
 * and any worker can open it. A list owns its frames exclusively (they stay UNIQUE: `fromInUse`
 * reports `Unique`). This is the API half; the words, the journal and the repair after a death
 * are `region/lists.ts`'s.
 *
 * Each list has a lock with an owner token, which every call takes for that call only: list
 * methods and `CursorMut` methods alike, so no object holds it between calls and a forgotten
 * cursor blocks nobody. A cursor is fail-fast instead (the kernel's `&mut` borrow, checked at run
 * time): the list's modification count in shared memory tells it whether anything but itself
 * changed the list since its last call; if so it is stale and refuses every use (`Stale`).
 * No user code (`onDrop`) runs while a list's lock is held, so no call ever waits on its own lock.
 */
import { FrameUseError, InvariantError, hex } from '../base/errors.js';
import { MAX_LISTS } from '../base/limits.js';
import { INSPECT, inspectSafely } from '../base/inspect.js';
import { PAGE_SHIFT, PAGE_SIZE, checkPaddr, type Paddr } from '../base/units.js';
import { ensureListTag } from '../checked/contracts.js';
import {
  LINK_IN_LIST,
  LINK_NOT_UNIQUE,
  LINK_WRONG_TYPE,
  claimList,
  destroyList,
  initList,
  linkFrame,
  linkRefusal,
  listBack,
  listFront,
  listGen,
  listIdOf,
  listMod,
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
import type { AnyMeta, ViewOwner } from './meta-type.js';
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
 * stay unique while in it (`fromInUse` reports `Unique`). Every method, and every method of a
 * `CursorMut` that walks and edits it, takes the list's lock for that call only. A change made by
 * a method (a push or a pop) makes every cursor of the list stale (`CursorMut`).
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
   * const other = FrameSystem.attach(sys.handle, { separate: true }); // as a worker would, with list.handle posted to it
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
    this.check();
    this.checkItem(frame);
    this.enter();
    try {
      this.insert(frame, listFront(this.r, this.index));
    } finally {
      this.leave();
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
    this.check();
    this.checkItem(frame);
    this.enter();
    try {
      this.insert(frame, 0);
    } finally {
      this.leave();
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
    this.enter();
    try {
      return this.take(listFront(this.r, this.index));
    } finally {
      this.leave();
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
    this.enter();
    try {
      return this.take(listBack(this.r, this.index));
    } finally {
      this.leave();
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
   * holds no lock: the list's lock is taken to read the front, and again by each of the cursor's
   * calls for that call only. Any number of cursors may exist at once, in any worker; a change of
   * the list made by anything but a cursor itself makes that cursor stale (`Stale`). `Dropped`
   * for a destroyed list.
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
    this.enter();
    try {
      return new CursorMut(this, listFront(this.r, this.index), listMod(this.r, this.index));
    } finally {
      this.leave();
    }
  }

  /**
   * A cursor at the last frame (or the ghost position if the list is empty). As
   * `cursorFrontMut`, it holds no lock between its calls.
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
    this.enter();
    try {
      return new CursorMut(this, listBack(this.r, this.index), listMod(this.r, this.index));
    } finally {
      this.leave();
    }
  }

  /**
   * A cursor at the frame at `paddr`, or null if it is not in this list (also for any bad
   * address). As `cursorFrontMut`, it holds no lock between its calls.
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
    this.enter();
    try {
      const f = this.listed(paddr); // looked at again under the lock
      return f === 0 ? null : new CursorMut(this, f, listMod(this.r, this.index));
    } finally {
      this.leave();
    }
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
    this.enter();
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
      this.leave();
    }
    return refs[Symbol.iterator]();
  }

  /**
   * Drops every frame of the list and frees the list's head; every handle of it, in every worker,
   * is then stale (`Dropped`), its cursors too. The frames are taken out and the head freed under
   * the list's lock; they are dropped after it is given back, so an `onDrop` may use any list. If
   * an `onDrop` throws, the rest are dropped all the same and the first error rethrown.
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
    this.enter();
    let error: unknown;
    let failed = false;
    const taken: UniqueFrame<M>[] = [];
    try {
      for (let u = this.take(listFront(this.r, this.index)); u !== null; u = this.take(listFront(this.r, this.index))) taken.push(u);
      destroyList(this.r, this.index, this.gen);
    } catch (e) {
      failed = true;
      error = e;
    } finally {
      this.leave();
    }
    // The user's code (onDrop) runs with no list lock held: it may use this worker's lists.
    for (const u of taken) {
      try {
        u.drop();
      } catch (e) {
        if (!failed) error = e;
        failed = true;
      }
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

  /** @internal What `console.log` shows (Node, Deno, Bun): `LinkedList(1, 3 frames, app.cache-page)`, or `LinkedList(1, destroyed)`. */
  [INSPECT](): string {
    return inspectSafely(
      () => `LinkedList(${this.id}, ${this.size} frame${this.size === 1 ? '' : 's'}, ${this.metaType.name})`,
      () => `LinkedList(${this.id}, ${this._sys._closed ? 'system closed' : 'destroyed'})`,
    );
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
   * @internal Takes the list's lock for one call (the caller gives it back with `leave`, in a
   * `finally`). `Dropped` for a destroyed list, also one destroyed while this worker waited for
   * the lock. Never called with the lock held: nothing that runs under it calls back into a list.
   */
  enter(): void {
    this.check();
    lockList(this.r, this.index);
    try {
      this.check(); // destroyed while we waited?
    } catch (e) {
      unlockList(this.r, this.index);
      throw e;
    }
  }

  /** @internal Gives back the lock `enter` took. */
  leave(): void {
    unlockList(this.r, this.index);
  }

  /**
   * @internal The checks of a frame about to enter the list that need no lock: `BadValue` for
   * what is no `UniqueFrame` or one of another region, `Closed` / `Dropped` for a dead handle.
   */
  checkItem(frame: UniqueFrame<M>): void {
    checkHandle(frame as unknown, UniqueFrame, 'a list item (only unique frames enter a list)');
    frame._check();
    const sys = this._sys;
    if (frame._sys.handle.memory !== sys.handle.memory || frame._sys.handle.offset !== sys.handle.offset) {
      throw new FrameUseError('BadValue', `${frame} belongs to another region`);
    }
  }

  /**
   * @internal Links `frame` (which passed `checkItem`) before frame number `next` (0: at the
   * back) and consumes the handle; the lock is held. Errors as `pushFront`, and then nothing
   * changed.
   */
  insert(frame: UniqueFrame<M>, next: number): void {
    const sys = this._sys;
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
 * writes the current frame's metadata, takes frames out and links frames in.
 *
 * It holds no lock between its calls: each method takes the list's lock for that call only, so a
 * cursor never blocks another worker, and a cursor that is never released blocks nobody. It is
 * fail-fast instead, the kernel's `&mut` borrow checked at run time: a change of the list made by
 * anything but this cursor (a list method, another cursor, any worker, a `reclaimWorker` that
 * repairs the list after a death) makes it stale, and its next call throws
 * `FrameUseError('Stale')` and changes nothing. A stale cursor stays stale: every later use,
 * `current` included, throws `Stale`, except `release()`. Make a new cursor then. Its own edits
 * (`takeCurrent`, `insertBefore`) keep it fresh. Any number of cursors may exist at once;
 * `release()` (or `using`) ends one early, after which every use is `Dropped`.
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
 * list.popFront()!.drop(); // a change the cursor did not make
 * try {
 *   cursor.moveNext();
 * } catch (e) {
 *   console.log((e as FrameUseError).code, [...list].map((ref) => ref.meta.key)); // 'Stale' [ 3 ]
 * }
 * cursor.release();
 * list.destroy();
 * ```
 */
export class CursorMut<M extends AnyMeta = AnyMeta> implements Disposable {
  private view: MetaMutOf<M> | undefined;
  private released = false;
  /** Set once a change made by something else is seen; never cleared. */
  private stale = false;
  /** The region, as the protocol's functions take it. */
  private readonly r: Region;
  /** The list's entry index (its id - 1). */
  private readonly index: number;
  /** The generation of the list's entry: another one means the list was destroyed. */
  private readonly gen: number;

  /** @internal Made by `LinkedList`'s cursor methods, which read `cur` and `expected` under the list's lock. */
  constructor(
    private readonly list: LinkedList<M>,
    /** Frame index + 1 of the current frame; 0 at the ghost position. */
    private cur: number,
    /** The list's modification count as this cursor left it: any other value means another change. */
    private expected: number,
  ) {
    this.r = list._sys._region;
    this.index = list.id - 1;
    this.gen = list.handle.gen;
  }

  /** @internal What `console.log` shows (Node, Deno, Bun): `CursorMut(list 1, at 0x3000)`, `(list 1, ghost)`, `stale` or `released`. */
  [INSPECT](): string {
    const where = this.released ? 'released' : this.stale ? 'stale' : this.cur === 0 ? 'ghost' : `at ${hex((this.cur - 1) * PAGE_SIZE)}`;
    return `CursorMut(list ${this.list.id}, ${where})`;
  }

  /**
   * The current frame's metadata, writable (the list owns it), or null at the ghost position.
   * `Stale` if the list changed since the cursor's last call.
   *
   * The view works while the cursor is fresh and the frame in the list; once the cursor is stale
   * or released, or the frame left the list, each use of it throws (`Stale` or `Dropped`). That
   * check, like this getter's, reads the modification count without the list's lock: it says
   * that no change had begun when it looked, so a use that races with another worker's change
   * can still land just before that change takes the frame. It catches misuse early (fail-fast);
   * it is no lock, and a write through it is no list operation.
   *
   * @example
   * ```ts
   * const Entry = defineMeta('app.entry', { key: 'u32' });
   * const list = LinkedList.create(sys, Entry);
   * list.pushBack(new FrameAllocOptions(sys).allocUnique(Entry, { key: 1 }));
   * const cursor = list.cursorFrontMut();
   * const meta = cursor.current!;
   * meta.key = 42;
   * cursor.moveNext(); // to the ghost
   * console.log(cursor.current, [...list][0].meta.key); // null 42
   * list.popFront()!.drop(); // the cursor is stale now, and so is its view
   * try {
   *   meta.key = 7;
   * } catch (e) {
   *   console.log((e as FrameUseError).code); // 'Stale'
   * }
   * cursor.release();
   * list.destroy();
   * ```
   */
  get current(): MetaMutOf<M> | null {
    this.checkFresh();
    if (this.cur === 0) return null;
    if (this.view === undefined) {
      const f = this.cur;
      const live = (): boolean => this.viewLive(f);
      const owner: ViewOwner = {
        paddr: (f - 1) * PAGE_SIZE,
        _sys: this.list._sys,
        get _live() {
          return live();
        },
        _deadError: () => this.viewError(f),
      };
      this.view = this.list.metaType._mutView(owner, this.r.mem, storageByte(slotWord(this.r, f - 1))) as MetaMutOf<M>;
    }
    return this.view;
  }

  /**
   * The current frame's address, or null at the ghost position. `Stale` if the list changed
   * since the cursor's last call.
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
    this.checkFresh();
    return this.cur === 0 ? null : (this.cur - 1) * PAGE_SIZE;
  }

  /**
   * Moves to the next frame (from the last one to the ghost; from the ghost to the first).
   * `Stale` if the list changed since the cursor's last call; then it stays where it was.
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
    this.begin();
    try {
      this.moveTo(this.cur === 0 ? listFront(this.r, this.index) : listedNext(this.r, this.cur));
    } finally {
      this.list.leave();
    }
  }

  /**
   * Moves to the previous frame (from the first one to the ghost; from the ghost to the last).
   * `Stale` if the list changed since the cursor's last call; then it stays where it was.
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
    this.begin();
    try {
      this.moveTo(this.cur === 0 ? listBack(this.r, this.index) : listedPrev(this.r, this.cur));
    } finally {
      this.list.leave();
    }
  }

  /**
   * Takes the current frame out of the list (the cursor moves to the next); null at the ghost.
   * The caller owns the frame again, and the cursor stays fresh. `Stale` if the list changed
   * since the cursor's last call; then nothing is taken.
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
    this.begin();
    try {
      const f = this.cur;
      if (f === 0) return null;
      const next = listedNext(this.r, f);
      const frame = this.list.take(f);
      this.expected = listMod(this.r, this.index); // this cursor's own change
      this.moveTo(next);
      return frame;
    } finally {
      this.list.leave();
    }
  }

  /**
   * Links `frame` before the current frame (at the ghost: at the back); the cursor stays, and
   * stays fresh. The handle is consumed. `Stale` if the list changed since the cursor's last
   * call; other errors as `LinkedList.pushFront`; after any error the frame is still the
   * caller's and nothing changed.
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
    this.checkFresh(); // a stale cursor says so before anything is said about the frame
    this.list.checkItem(frame);
    this.begin();
    try {
      this.list.insert(frame, this.cur);
      this.expected = listMod(this.r, this.index); // this cursor's own change
    } finally {
      this.list.leave();
    }
  }

  /**
   * The list this cursor walks. A change made through it (`pushBack`, `popFront`, ...) is not
   * the cursor's: it makes the cursor stale. `Stale` if the list changed since the cursor's last
   * call.
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
    this.checkFresh();
    return this.list;
  }

  /**
   * Ends the cursor: every later use is `Dropped`, and so is any use of a view `current` gave.
   * It holds no lock, so this frees nothing another worker waits for; it never throws, and a
   * second call does nothing (also on a stale cursor, or one of a destroyed list or a closed
   * system).
   *
   * @example
   * ```ts
   * const list = LinkedList.create(sys, Untyped);
   * const cursor = list.cursorFrontMut();
   * cursor.release();
   * cursor.release(); // idempotent
   * try {
   *   cursor.moveNext();
   * } catch (e) {
   *   console.log((e as FrameUseError).code); // 'Dropped'
   * }
   * list.destroy();
   * ```
   */
  release(): void {
    this.released = true;
    this.view = undefined;
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

  /**
   * The checks every use makes first, in this order: `Dropped` once released, `Closed` once the
   * system is closed, `Stale` once stale, `Dropped` once the list is destroyed, and `Stale` if
   * the modification count (read without the lock) is not the one this cursor expects.
   */
  private checkFresh(): void {
    if (this.released) throw new FrameUseError('Dropped', `the cursor of linked list ${this.list.id} was released`);
    const sys = this.list._sys;
    if (sys._closed) sys._assertOpen();
    if (this.stale) throw this.staleError();
    this.list.check();
    if (listMod(this.r, this.index) !== this.expected) this.goStale();
  }

  /**
   * Takes the list's lock for one call and checks, under it, that the list is still as this
   * cursor left it (else `Stale`, and the lock is given back). The caller gives it back with
   * `list.leave()` in a `finally`.
   */
  private begin(): void {
    this.checkFresh(); // fail fast, without waiting for the lock
    this.list.enter();
    if (listMod(this.r, this.index) !== this.expected) {
      this.list.leave();
      this.goStale();
    }
  }

  private goStale(): never {
    this.stale = true;
    this.view = undefined;
    throw this.staleError();
  }

  private staleError(): FrameUseError {
    return new FrameUseError(
      'Stale',
      `the cursor of linked list ${this.list.id} is stale: the list was changed by something other than this cursor ` +
        '(a list method, another cursor, another worker) since its last call, and it did nothing. ' +
        'Release it and make a new one (cursorFrontMut, cursorBackMut, cursorMutAt)',
    );
  }

  /** Whether a view of frame `f` that `current` gave still works (without the lock: best effort). */
  private viewLive(f: number): boolean {
    if (this.released || this.stale) return false;
    const r = this.r;
    if (listGen(r, this.index) !== this.gen) return false;
    if (listMod(r, this.index) !== this.expected) {
      this.stale = true;
      return false;
    }
    return listIdOf(r, f) === this.list.id;
  }

  /** Why a view of frame `f` stopped working (its system is open: `Closed` is said before). */
  private viewError(f: number): FrameUseError {
    const paddr = hex((f - 1) * PAGE_SIZE);
    if (this.released) return new FrameUseError('Dropped', `metadata of frame ${paddr} used after its cursor was released`);
    if (this.stale) return this.staleError();
    if (listGen(this.r, this.index) !== this.gen) return new FrameUseError('Dropped', `linked list ${this.list.id} was destroyed`);
    return new FrameUseError('Dropped', `metadata of frame ${paddr} used after the frame left linked list ${this.list.id}`);
  }
}
