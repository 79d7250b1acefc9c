/**
 * Intrusive linked lists of unique frames, as the kernel's `linked_list`: the links live in the
 * frames' metadata slots (`S_NEXT`/`S_PREV`, `S_LIST` = the list's id), the head in the region's
 * list table, so a list costs no memory per frame and any worker can open it. A list owns its
 * frames exclusively (they stay UNIQUE: `fromInUse` reports `Unique`).
 *
 * Each list has a lock with an owner token; a `CursorMut` holds it while it lives (the kernel's
 * `&mut` borrow), and list methods take it per call (re-entrant within the holding worker). Each
 * change is journaled with absolute values first, so `reclaimWorker` can redo one a dead worker
 * left half done.
 */
import { FrameUseError, hex } from '../base/errors.js';
import { H_LISTS, LIST_WORDS } from '../region/geometry.js';
import { LOP_LINK, LOP_UNLINK, W_LOP } from '../region/journal.js';
import { L_BACK, L_FRONT, L_GEN, L_LOCK, L_SIZE, L_TYPE, applyListOp, entryWord } from '../region/lists.js';
import { RC_UNIQUE, SLOT_SHIFT, S_LIST, S_NEXT, S_PREV, S_TYPE } from '../region/meta.js';
import { MAX_LISTS } from '../base/limits.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../base/units.js';
import type { FrameContext } from './context.js';
import { lock, lockOwner, unlock } from '../shm/lock.js';
import { FrameRef } from './frame-ref.js';
import { checkPaddr, type Paddr } from '../base/units.js';
import { storageByte } from './meta.js';
import type { AnyMeta } from './meta-type.js';
import { lookupTypeId, typeById, typeIdOf } from './registry.js';
import { UniqueFrame, type MetaMutOf } from './unique.js';
import { ensureListTag } from '../checked/contracts.js';

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
  private readonly i32: Int32Array;
  /** Word index of the list's entry. */
  private readonly e: number;

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
    this.i32 = sys._region.mem.i32;
    this.e = entryWord(index);
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
    const i32 = sys._region.mem.i32;
    for (let index = 0; index < MAX_LISTS; index++) {
      const e = entryWord(index);
      const gen = Atomics.load(i32, e + L_GEN);
      if ((gen & 1) !== 0) continue;
      // Claim the entry: an even generation becomes odd.
      if (Atomics.compareExchange(i32, e + L_GEN, gen, (gen + 1) | 0) !== gen) continue;
      let typeId: number;
      try {
        typeId = typeIdOf(sys, meta);
      } catch (err) {
        Atomics.store(i32, e + L_GEN, (gen + 2) | 0);
        throw err;
      }
      i32[e + L_FRONT] = 0;
      i32[e + L_BACK] = 0;
      i32[e + L_TYPE] = typeId;
      Atomics.store(i32, e + L_SIZE, 0);
      return new LinkedList(sys, index, (gen + 1) | 0, meta, true);
    }
    throw new FrameUseError('TooManyLists', `the region already has ${MAX_LISTS} linked lists`);
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
    const e = entryWord(index);
    if (Atomics.load(sys._region.mem.i32, e + L_GEN) !== handle.gen) {
      throw new FrameUseError('Dropped', `linked list ${handle.id} was destroyed`);
    }
    const type = typeById(sys, sys._region.mem.i32[e + L_TYPE]);
    if (meta !== undefined && lookupTypeId(sys, meta) !== sys._region.mem.i32[e + L_TYPE]) {
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
   * The list's id (1..MAX_LISTS): what `S_LIST` (the kernel's `in_list`) holds for its frames.
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
    return Atomics.load(this.i32, this.e + L_SIZE);
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
    this.withLock(() => this.cursorAt(this.i32[this.e + L_FRONT])._insertBefore(frame));
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
    this.withLock(() => this.cursorAt(0)._insertBefore(frame));
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
    return this.withLock(() => this.cursorAt(this.i32[this.e + L_FRONT])._takeCurrent());
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
    return this.withLock(() => this.cursorAt(this.i32[this.e + L_BACK])._takeCurrent());
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
    return this.slotOf(paddr) >= 0;
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
    return this.cursorAt(this.i32[this.e + L_FRONT], true);
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
    return this.cursorAt(this.i32[this.e + L_BACK], true);
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
    if (this.slotOf(paddr) < 0) return null;
    this.acquire();
    if (this.slotOf(paddr) < 0) {
      this.releaseLock();
      return null;
    }
    return this.cursorAt((paddr >>> PAGE_SHIFT) + 1, true);
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
    const refs = this.withLock(() => {
      const out: FrameRef<M>[] = [];
      const i32 = this.i32;
      const id = this.id;
      for (let f = i32[this.e + L_FRONT]; f !== 0; f = i32[this.slot(f) + S_NEXT]) {
        const w = this.slot(f);
        out.push(new FrameRef(this._sys, w, (f - 1) * PAGE_SIZE, this.metaType, { get _live() { return i32[w + S_LIST] === id; } }));
        if (out.length > this._sys.nframes) throw new FrameUseError('BadRange', `linked list ${id} is corrupt (a cycle)`);
      }
      return out;
    });
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
        const u = this.cursorAt(this.i32[this.e + L_FRONT])._takeCurrent();
        if (u === null) break;
        try {
          u.drop();
        } catch (e) {
          if (!failed) error = e;
          failed = true;
        }
      }
      Atomics.store(this.i32, this.e + L_GEN, (this.gen + 1) | 0);
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
    if (this.owner && Atomics.load(this.i32, this.e + L_GEN) === this.gen) this.destroy();
  }

  /** `LinkedList(1)`, for logs. */
  toString(): string {
    return `LinkedList(${this.id})`;
  }

  /** @internal */
  check(): void {
    if (Atomics.load(this.i32, this.e + L_GEN) !== this.gen) {
      throw new FrameUseError('Dropped', `linked list ${this.id} was destroyed`);
    }
  }

  /** @internal Word index of the slot of frame index + 1 `f`. */
  slot(f: number): number {
    return this._sys._region.metaWord + ((f - 1) << SLOT_SHIFT);
  }

  /** The slot word of `paddr` if that frame is in this list, else -1. */
  private slotOf(paddr: Paddr): number {
    let index: number;
    try {
      index = checkPaddr(paddr, this._sys.maxPaddr);
    } catch {
      return -1;
    }
    const w = this.slot(index + 1);
    return this.i32[w + S_LIST] === this.id ? w : -1;
  }

  private cursorAt(f: number, owned = false): CursorMut<M> {
    return new CursorMut(this, f, owned);
  }

  /** Whether this worker holds the list's lock (then calls nest inside the holder's). */
  private held(): boolean {
    return lockOwner(this.i32, this.e + L_LOCK) === this._sys._region.token;
  }

  /** @internal */
  acquire(): void {
    if (this.held()) {
      throw new FrameUseError('BadRange', `linked list ${this.id} already has a cursor in this worker: release it first`);
    }
    lock(this.i32, this.e + L_LOCK, this._sys._region.token);
  }

  /** @internal */
  releaseLock(): void {
    unlock(this.i32, this.e + L_LOCK);
  }

  /** @internal Runs `fn` under the list's lock (inside a cursor's, if this worker holds one). */
  withLock<T>(fn: () => T): T {
    this.check();
    if (this.held()) return fn();
    lock(this.i32, this.e + L_LOCK, this._sys._region.token);
    try {
      this.check(); // destroyed while we waited?
      return fn();
    } finally {
      unlock(this.i32, this.e + L_LOCK);
    }
  }

  /** @internal Journals, applies and clears one change (lock held). */
  apply(kind: number, x: number, prev: number, next: number, size: number): void {
    const i32 = this.i32;
    const j = this._sys._region.rec + W_LOP;
    i32[j + 1] = this.index;
    i32[j + 2] = x;
    i32[j + 3] = prev;
    i32[j + 4] = next;
    i32[j + 5] = size;
    i32[j] = kind; // ORDER: the entry is whole before its kind makes it valid
    applyListOp(this._sys._region, kind, this.index, x, prev, next, size);
    i32[j] = 0;
    if (this._sys.checked) ensureListTag(this._sys, this.slot(x), (x - 1) * PAGE_SIZE, kind === LOP_LINK ? this.id : 0, kind === LOP_LINK ? 'list_insert_ensures' : 'list_take_ensures');
  }
}

/**
 * A cursor over a list, as the kernel's `CursorMut`: at a frame, or at the ghost position past
 * the end (`current` null), moving circularly through the ghost. While it lives it holds the
 * list's lock: `release()` it (or use `using`).
 */
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

  /** @internal */
  constructor(
    private readonly list: LinkedList<M>,
    /** Frame index + 1 of the current frame; 0 at the ghost position. */
    private cur: number,
    /** Whether this cursor holds the list's lock (false: a list method's internal cursor). */
    private readonly owned: boolean,
  ) {}

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
      const w = this.list.slot(this.cur);
      const i32 = this.list._sys._region.mem.i32;
      const id = this.list.id;
      const owner = { paddr: (this.cur - 1) * PAGE_SIZE, get _live() { return i32[w + S_LIST] === id; } };
      this.view = this.list.metaType._mutView(owner, this.list._sys._region.mem, storageByte(w)) as MetaMutOf<M>;
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
    const i32 = this.list._sys._region.mem.i32;
    this.moveTo(this.cur === 0 ? i32[this.listWord(L_FRONT)] : i32[this.list.slot(this.cur) + S_NEXT]);
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
    const i32 = this.list._sys._region.mem.i32;
    this.moveTo(this.cur === 0 ? i32[this.listWord(L_BACK)] : i32[this.list.slot(this.cur) + S_PREV]);
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
    return this._takeCurrent();
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
    this._insertBefore(frame);
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
    if (this.released || !this.owned) return;
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

  /** @internal */
  _takeCurrent(): UniqueFrame<M> | null {
    if (this.cur === 0) return null;
    const list = this.list;
    const i32 = list._sys._region.mem.i32;
    const x = this.cur;
    const w = list.slot(x);
    const prev = i32[w + S_PREV];
    const next = i32[w + S_NEXT];
    list.apply(LOP_UNLINK, x, prev, next, Atomics.load(i32, this.listWord(L_SIZE)) - 1);
    this.moveTo(next);
    return new UniqueFrame(list._sys, w, (x - 1) * PAGE_SIZE, list.metaType);
  }

  /** @internal */
  _insertBefore(frame: UniqueFrame<M>): void {
    const list = this.list;
    frame._check();
    const sys = list._sys;
    const i32 = sys._region.mem.i32;
    if (frame._sys._region.mem.u8.buffer !== sys._region.mem.u8.buffer || frame._sys.handle.offset !== sys.handle.offset) {
      throw new FrameUseError('BadValue', `${frame} belongs to another region`);
    }
    const w = frame._w;
    if (i32[w + S_LIST] !== 0) {
      throw new FrameUseError('InList', `frame ${hex(frame.paddr)} is already in linked list ${i32[w + S_LIST]}`);
    }
    if (i32[w + S_TYPE] !== i32[this.listWord(L_TYPE)]) {
      throw new FrameUseError('WrongType', `frame ${hex(frame.paddr)} holds '${frame.metaType.name}' metadata; ${list} holds '${list.metaType.name}'`);
    }
    if (!(frame instanceof UniqueFrame) || Atomics.load(i32, w) !== RC_UNIQUE) {
      throw new FrameUseError('NotHeld', `frame ${hex(frame.paddr)} is not unique: only unique frames enter a list`);
    }
    const x = (frame.paddr >>> PAGE_SHIFT) + 1;
    const next = this.cur;
    const prev = next === 0 ? i32[this.listWord(L_BACK)] : i32[list.slot(next) + S_PREV];
    frame._end(); // the list owns it from here
    list.apply(LOP_LINK, x, prev, next, Atomics.load(i32, this.listWord(L_SIZE)) + 1);
  }

  private listWord(word: number): number {
    return H_LISTS + (this.list.id - 1) * LIST_WORDS + word;
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
