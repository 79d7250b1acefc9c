/**
 * `FrameSystem`: one region of shared physical memory as one worker sees it. It creates or
 * attaches to the region (header, metadata slots, frames; see `region/geometry.ts`), owns this worker's
 * views and worker id, and answers for the whole region: `stats()`, `checkInvariants()`.
 */
import {
  FrameSystemError,
  FrameUseError,
  InvariantError,
  hex,
} from './base/errors.js';
import { BuddyAllocator } from './frame-allocator/buddy.js';
import { CachedAllocator } from './frame-allocator/cache.js';
import { reclaimWorkers, type ReclaimReport } from './workers/reclaim.js';
import { LeakTracker, type LeakReport } from './checked/leaks.js';
import type { GlobalFrameAllocator } from './base/global-allocator.js';
import { FrameAllocOptions } from './frame/allocator.js';
import type { Frame, InitOf } from './frame/frame.js';
import type { Paddr } from './base/units.js';
import { drainDeferred, dropLast } from './frame/teardown.js';
import type { FrameContext } from './frame/context.js';
import { Untyped, forgetRegion, typeById, type AnyMeta } from './frame/meta-type.js';
import type { Segment } from './frame/segment.js';
import { newWasmMemory } from './shm/atomics.js';
import { Region } from './region/region.js';
import { checkNumber, checkTimeout, describe, notAHandle } from './base/args.js';
import { INSPECT, inspectSafely } from './base/inspect.js';
import { Heap } from './heap/heap.js';
import { heapReady as heapInUse } from './region/heap.js';
import { claimWorker, recordThread, threadOf, workerState, WORKER_FREE } from './region/workers.js';
import { threadId } from './shm/thread.js';
import { autoGrowOf, bufferOf, initRegion, isGrowable, mayGrowTo, readHeader, regionId, sharedArrayBufferClass, syncFrames, type FrameSystemHandle, type SharedMemory } from './region/header.js';
import { autoGrowBy, growRegion } from './frame-allocator/grow.js';
import { fastPath } from './region/fast-path.js';
import { HEADER_BYTES, computeLayout, type Layout } from './region/geometry.js';
import { SLOT_UNUSED, checkRegion, countSlots, slotState } from './region/census.js';
import { CACHE_CAPACITY, attachedWorkers, openRegion, releaseRecord } from './region/workers.js';
import { MAX_FRAMES, MAX_WORKERS, META_SLOT_SIZE } from './base/limits.js';
import { PAGE_SHIFT, PAGE_SIZE } from './base/units.js';

/**
 * How `FrameSystem.create` makes a region. Only `frames` is required.
 *
 * @example
 * ```ts
 * const options: FrameSystemOptions = {
 *   frames: 256, // 1 MiB of frames
 *   memory: new SharedArrayBuffer(4 << 20), // or leave it out: a new shared memory is made
 *   offset: 64 * 1024, // the first 64 KiB of the buffer stay the application's
 *   checked: true, // run-time contract checks, in every worker that attaches
 * };
 * const sys = FrameSystem.create(options);
 * console.log(sys.nframes, sys.checked); // 256 true
 * ```
 */
export interface FrameSystemOptions {
  /** Number of 4 KiB frames (1 .. MAX_FRAMES). */
  frames: number;
  /** The memory to carve. When absent, a new shared WebAssembly.Memory of the right size (its
   *  buffer is a SharedArrayBuffer; pageframe's atomics and zeroing then run as WebAssembly, about
   *  twice as fast), or a new SharedArrayBuffer where WebAssembly threads are unavailable or the
   *  region is past 4 GiB. A shared WebAssembly.Memory that is too small is grown. */
  memory?: SharedMemory;
  /** Byte offset where the region starts (a multiple of 64), so that memory below it (a
   *  WebAssembly module's data and heap) stays untouched. Default 0. */
  offset?: number;
  /**
   * The most frames the region may grow to (`grow`, `autoGrow`): frames..MAX_FRAMES, default
   * `frames` (it never grows). Its metadata room (64 B a frame) is reserved at creation; a memory
   * pageframe makes can grow that far (a shared WebAssembly.Memory with that `maximum`, or a
   * growable SharedArrayBuffer); a memory passed in must be able to (`FrameSystem.bytesFor`), else
   * `FrameSystemError('CannotGrow')`. Attaching workers inherit it.
   */
  maxFrames?: number;
  /**
   * When an allocation would be NoMemory, the allocating worker grows the region first, up to
   * `maxFrames`: `true` by what it needs and at least 1/8 of the region, a number `n` by `n`
   * frames (or what it needs, if more); default false. Attaching workers inherit it.
   */
  autoGrow?: boolean | number;
  /** Check the seed's contracts at run time (see `ContractError`). Attaching workers inherit it. */
  checked?: boolean;
  /** Another allocator instead of the shared buddy allocator (see `GlobalFrameAllocator`). */
  allocator?: GlobalFrameAllocator;
  /** Whether this worker keeps per-worker caches of free frames in front of the shared buddy
   *  allocator (default true; ignored with a custom allocator). */
  caches?: boolean;
  /** Checked mode: called when a handle is garbage-collected without `drop` (see `leaks()`). */
  onLeak?: (report: LeakReport) => void;
  /** Checked mode: record where each handle was made, for leak reports (default true). The stack
   *  walk costs 1 to 4 microseconds a handle; without it, checked mode costs about twice what an
   *  unchecked allocation does. */
  leakStacks?: boolean;
  /**
   * How long `reclaimWorker` in this worker waits for the allocator lock, in milliseconds, before
   * it leaves the reclaim pending (`ReclaimReport.pending`) for the next one to finish: the
   * holder has most likely died too. Default 1000; a number >= 0 or `Infinity`.
   */
  reclaimWaitMs?: number;
}

/**
 * How `FrameSystem.attach` sets up this worker's view of a region. All optional.
 *
 * @example
 * ```ts
 * const options: AttachOptions = { caches: false }; // a worker that allocates little
 * // (separate: here, in the thread that made `sys`, the attach stands for another worker's)
 * const other = FrameSystem.attach(sys.handle, { ...options, separate: true });
 * other.allocFrame().drop(); // straight back to the shared allocator
 * other.close();
 * ```
 */
export interface AttachOptions {
  /** The custom allocator the region was created with, if any. */
  allocator?: GlobalFrameAllocator;
  /** Per-worker caches for this worker (default true). */
  caches?: boolean;
  /** Checked mode: called when a handle of this worker leaks (see `leaks()`). */
  onLeak?: (report: LeakReport) => void;
  /** Checked mode: record where each handle was made (default true). */
  leakStacks?: boolean;
  /**
   * How long `reclaimWorker` in this worker waits for the allocator lock, in milliseconds, before
   * it leaves the reclaim pending (`ReclaimReport.pending`) for the next one to finish: the
   * holder has most likely died too. Default 1000; a number >= 0 or `Infinity`.
   */
  reclaimWaitMs?: number;
  /**
   * Attach as a worker of its own (a new worker id) even if this thread has this region already:
   * for tests and simulations that stand for another worker in one thread. Default false: a
   * second attach on a thread returns the system it has.
   */
  separate?: boolean;
}

/**
 * The systems of this thread, by region (`regionId`): a second `attach` of a region on the same
 * thread returns the one it has, and `close` closes it when every attach of it is closed. Held
 * weakly: a system nobody uses any more (never closed) is not kept alive, nor its memory, by
 * this table; its entry goes at the next `register`.
 */
const thisThread = new Map<string, { ref: WeakRef<FrameSystem>; attaches: number; options: AttachOptions }>();

/** The live system of this thread for region `key`, if any (not closed, not collected). */
function threadSystem(key: string): { sys: FrameSystem; entry: { attaches: number; options: AttachOptions } } | undefined {
  const entry = thisThread.get(key);
  const sys = entry?.ref.deref();
  if (entry === undefined || sys === undefined || sys._closed) return undefined;
  return { sys, entry };
}

/** Makes `sys` this thread's system for region `key` (and forgets the collected ones). */
function register(key: string, sys: FrameSystem, options: AttachOptions): void {
  for (const [k, e] of thisThread) if (e.ref.deref() === undefined) thisThread.delete(k);
  // The options that `sameOptions` compares, and nothing else (not the memory of `create`'s).
  const { allocator, caches, onLeak, leakStacks, reclaimWaitMs } = options;
  thisThread.set(key, { ref: new WeakRef(sys), attaches: 1, options: { allocator, caches, onLeak, leakStacks, reclaimWaitMs } });
}

/**
 * Whether `options` asks for nothing that `had` (the options the thread's system was made with)
 * set otherwise.
 */
function sameOptions(options: AttachOptions, had: AttachOptions): boolean {
  return (
    (options.allocator === undefined || options.allocator === had.allocator) &&
    (options.caches === undefined || options.caches === (had.caches ?? true)) &&
    (options.onLeak === undefined || options.onLeak === had.onLeak) &&
    (options.leakStacks === undefined || options.leakStacks === (had.leakStacks ?? true)) &&
    (options.reclaimWaitMs === undefined || options.reclaimWaitMs === (had.reclaimWaitMs ?? 1000))
  );
}


/**
 * What `FrameSystem.watch` watches: a `worker_threads` Worker (or anything with a `threadId` and
 * an `'exit'` event), or a pool of them (`WatchablePool`).
 *
 * @example
 * ```ts
 * import { Worker } from 'node:worker_threads';
 * const targets: WatchTarget[] = [new Worker('', { eval: true })]; // or a piscina pool
 * for (const t of targets) sys.watch(t);
 * console.log(targets.length); // 1
 * ```
 */
export type WatchTarget = WatchableWorker | WatchablePool;

/**
 * A thread `FrameSystem.watch` can watch: a `worker_threads` Worker has both members.
 *
 * @example
 * ```ts
 * import { Worker } from 'node:worker_threads';
 * const worker: WatchableWorker = new Worker('', { eval: true });
 * sys.watch(worker);
 * console.log(worker.threadId > 0); // true
 * ```
 */
export interface WatchableWorker {
  /** The thread's id, as `worker_threads` numbers threads. */
  readonly threadId: number;
  /** Subscribes to the thread's exit. */
  once(event: 'exit', listener: () => void): unknown;
}

/**
 * A pool `FrameSystem.watch` can watch: piscina and tinypool keep their Workers in `threads`
 * (piscina also says `'workerCreate'`); workerpool keeps handlers, each with its `worker`, in
 * `workers`.
 *
 * @example
 * ```ts
 * // A pool of one's own: its Workers in `threads`.
 * const pool: WatchablePool = { threads: [] };
 * sys.watch(pool);
 * console.log(pool.threads?.length); // 0
 * ```
 */
export interface WatchablePool {
  /** The pool's Workers now (piscina, tinypool). */
  readonly threads?: readonly unknown[];
  /** The pool's worker handlers now, each with its `worker` (workerpool). */
  readonly workers?: readonly unknown[];
  /** Subscribes to the creation of a Worker (piscina's 'workerCreate'), where the pool has one. */
  on?(event: 'workerCreate', listener: (...args: unknown[]) => void): unknown;
}

function isWatchableWorker(x: unknown): x is WatchableWorker {
  const w = x as Partial<WatchableWorker> | null;
  return typeof w === 'object' && w !== null && typeof w.threadId === 'number' && Number.isSafeInteger(w.threadId) && typeof w.once === 'function';
}

function isWatchablePool(x: unknown): x is WatchablePool {
  const p = x as Partial<WatchablePool> | null;
  return typeof p === 'object' && p !== null && (Array.isArray(p.threads) || Array.isArray(p.workers));
}

/** The Workers of pool `p` now: its `threads`, or its handlers' `worker`s. */
function poolWorkers(p: WatchablePool): unknown[] {
  if (Array.isArray(p.threads)) return [...p.threads];
  return (p.workers ?? []).map((h) => (typeof h === 'object' && h !== null ? (h as { worker?: unknown }).worker : undefined));
}

/** Node's `process`, where there is one: it says `'worker'` for every Worker this thread creates. */
function nodeProcess(): { on(event: 'worker', fn: (w: unknown) => void): unknown; off(event: 'worker', fn: (w: unknown) => void): unknown } | undefined {
  const p = (globalThis as { process?: { on?: unknown; off?: unknown } }).process;
  return typeof p?.on === 'function' && typeof p.off === 'function' ? (p as never) : undefined;
}

/** A snapshot of the region (racy while other workers run). */
export interface FrameStats {
  /** Frames in the region. */
  readonly total: number;
  /** Frames free in the allocator. */
  readonly free: number;
  /** total - free. */
  readonly used: number;
  /** Frames held through shared handles (count 1..MAX). */
  readonly shared: number;
  /** Frames held by a UniqueFrame (or a linked list). */
  readonly unique: number;
  /** Frames being set up or torn down, or waiting on the deferred-drop stack (and any slot whose
   *  count word is no legal count, which `checkInvariants` reports). */
  readonly busy: number;
  /** UNUSED frames that are not free in the allocator: owned raw by someone. */
  readonly raw: number;
  /** Held frames (shared or unique) by metadata type name. */
  readonly byType: Readonly<Record<string, number>>;
}

/**
 * One region of shared physical memory as one worker sees it: the frames, their metadata slots,
 * the allocator, the worker table. `FrameSystem.create` makes a region; every other worker calls
 * `FrameSystem.attach(handle)` with the handle posted to it, and sees the same frames (a thread has
 * one system a region: a second attach there returns it). It allocates (`allocFrame`,
 * `allocSegment`) and answers for the whole region (`stats`, `checkInvariants`).
 *
 * @example
 * ```ts
 * const sys = FrameSystem.create({ frames: 1024 }); // 4 MiB of frames
 * const frame = sys.allocFrame();
 * const other = FrameSystem.attach(sys.handle, { separate: true }); // as a worker would (postMessage the handle)
 * const same = Frame.fromInUse(other, frame.paddr); // the same frame, seen through `other`
 * console.log(same.referenceCount, other.workerId); // 2 2
 * same.drop();
 * frame.drop();
 * other.close();
 * ```
 */
export class FrameSystem implements FrameContext {
  /**
   * Frames in the region now: live in every worker (a `grow` in any worker raises it here too).
   *
   * @example
   * ```ts
   * console.log(sys.nframes, sys.stats().total); // 64 64
   * ```
   */
  get nframes(): number {
    syncFrames(this._region);
    return this._region.nframes;
  }

  /**
   * `nframes * PAGE_SIZE`: the first address past the frame region now. Every paddr is below it.
   *
   * @example
   * ```ts
   * console.log(sys.maxPaddr === sys.nframes * PAGE_SIZE); // true
   * ```
   */
  get maxPaddr(): number {
    syncFrames(this._region);
    return this._region.maxPaddr;
  }

  /**
   * The most frames the region may grow to (`create({ maxFrames })`; default: its first size).
   *
   * @example
   * ```ts
   * const big = FrameSystem.create({ frames: 16, maxFrames: 1024 });
   * console.log(big.nframes, big.maxFrames); // 16 1024
   * big.close();
   * ```
   */
  get maxFrames(): number {
    return this._region.maxFrames;
  }
  /**
   * Whether the seed's contracts are checked at run time (`create({ checked: true })`; workers
   * that attach inherit it).
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 16, checked: true });
   * console.log(sys.checked, FrameSystem.attach(sys.handle, { separate: true }).checked); // true true
   * ```
   */
  readonly checked: boolean;
  /**
   * This worker's id in the region's worker table (1 for the creator, 1..MAX_WORKERS): what
   * `reclaimWorker` takes once the worker has exited.
   *
   * @example
   * ```ts
   * const other = FrameSystem.attach(sys.handle, { separate: true });
   * console.log(sys.workerId, other.workerId); // 1 2
   * other.close();
   * ```
   */
  readonly workerId: number;
  /**
   * The allocator frames come from: by default per-worker caches (`CachedAllocator`) in front of
   * the shared `BuddyAllocator`; or the custom one given to `create` / `attach`. Raw frames from
   * it are UNUSED: claim them with `Frame.fromUnused`, or give them back with `dealloc`.
   *
   * @example
   * ```ts
   * const paddr = sys.allocator.alloc(4, 4)!; // 4 raw frames aligned to 4 frames, or null
   * console.log(paddr % (4 * PAGE_SIZE), sys.stats().raw); // 0 4
   * sys.allocator.dealloc(paddr, 4);
   * ```
   */
  readonly allocator: GlobalFrameAllocator;
  /**
   * The memory and offset (structured-cloneable); `postMessage` it to a worker and
   * `FrameSystem.attach` it there.
   *
   * @example
   * ```ts
   * const { memory, offset } = sys.handle;
   * console.log(memory instanceof WebAssembly.Memory || memory instanceof SharedArrayBuffer, offset); // true 0
   * ```
   */
  readonly handle: FrameSystemHandle;

  /** @internal This worker's view of the region: what the protocol's functions take. */
  readonly _region: Region;
  /** @internal `reclaimWaitMs` (see `FrameSystemOptions`). */
  private readonly reclaimWaitMs: number;
  /** @internal The default allocator's caches, when in use. */
  readonly _cache: CachedAllocator | undefined;
  /** @internal */
  /** Workers `watch` watches already (each once). */
  private readonly watched = new WeakSet<object>();
  /** The `onReclaim` callbacks given to `watch`: each is told of every reclaim it makes. */
  private readonly onReclaims = new Set<(thread: number, reports: ReclaimReport[]) => void>();
  /** Stops the watch of the Workers this thread creates (`watch` of a pool); at `close`. */
  private unwatchProcess: (() => void) | undefined = undefined;
  /** @internal This thread's key for the region (`regionId`), if it is the thread's system for it (not a `separate` attach). */
  key: string | undefined = undefined;
  /** @internal Whether `close()` was called (every handle of this system then refuses use). */
  _closed = false;
  /** @internal Checked mode's leak detector (this worker's handles). */
  readonly _leaks: LeakTracker | undefined;
  /** @internal The heap, made on first use (`heap`). */
  private _heap: Heap | undefined = undefined;
  /** @internal The zeroed options behind `allocFrame` and `allocSegment`. */
  private _options: FrameAllocOptions | undefined;

  private constructor(
    handle: FrameSystemHandle,
    buffer: SharedArrayBuffer,
    layout: Layout,
    checked: boolean,
    workerId: number,
    allocator: GlobalFrameAllocator | undefined,
    caches: boolean,
    options: { onLeak?: (report: LeakReport) => void; leakStacks?: boolean; reclaimWaitMs?: number },
  ) {
    this.reclaimWaitMs = options.reclaimWaitMs ?? 1000;
    this.handle = handle;
    this.checked = checked;
    this.workerId = workerId;
    this._region = openRegion(handle.memory, buffer, handle.offset, layout, workerId, checked);
    if (checked) this._leaks = new LeakTracker(options.onLeak, options.leakStacks ?? true);
    if (allocator !== undefined) {
      this.allocator = allocator;
    } else {
      // Without caches of its own, a worker still goes through the cache layer: it counts the
      // other workers' cached frames as free and asks for them before NoMemory.
      const buddy = new BuddyAllocator(this._region);
      this._cache = new CachedAllocator(this._region, buddy, caches);
      this.allocator = caches ? this._cache : buddy;
      if (caches) this._region.fast = fastPath(this._region, CACHE_CAPACITY[1]);
    }
  }

  /**
   * Creates a region of `frames` frames in `memory` (a new shared memory when absent), with
   * every frame free in the allocator. This worker gets worker id 1. Throws
   * `FrameSystemError('BadMemory')` for a frame count outside 1..MAX_FRAMES, an offset that is not
   * a multiple of 64, or memory that is not shared or too small (a shared WebAssembly.Memory is
   * grown instead, up to its maximum).
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 1024 });
   * using frame = sys.allocFrame();
   * frame.bytes()[0] = 42;
   * console.log(sys.stats().used); // 1
   * ```
   */
  static create(options: FrameSystemOptions): FrameSystem {
    const { frames, offset = 0, checked = false } = options ?? ({} as FrameSystemOptions);
    if (options?.reclaimWaitMs !== undefined) checkTimeout(options.reclaimWaitMs, 'reclaimWaitMs');
    if (!Number.isInteger(frames) || frames < 1 || frames > MAX_FRAMES) {
      throw new FrameSystemError('BadMemory', `frames must be an integer in 1..${MAX_FRAMES}, not ${describe(frames)}`);
    }
    const maxFrames = options.maxFrames === undefined ? frames : options.maxFrames;
    if (!Number.isInteger(maxFrames) || maxFrames < frames || maxFrames > MAX_FRAMES) {
      throw new FrameSystemError('BadMemory', `maxFrames must be an integer in frames..${MAX_FRAMES} (${frames}..${MAX_FRAMES}), not ${describe(maxFrames)}`);
    }
    const autoGrow = autoGrowSetting(options.autoGrow);
    checkOffset(offset);
    const SAB = sharedArrayBufferClass(); // no shared memory of any kind without it
    const layout = computeLayout(frames, offset, maxFrames);
    const needed = offset + layout.totalBytes;
    const most = offset + layout.maxBytes;
    if (options.memory !== undefined && maxFrames > frames && !mayGrowTo(options.memory, most)) {
      throw new FrameSystemError(
        'CannotGrow',
        `the memory passed in cannot grow to the ${most} bytes maxFrames ${maxFrames} needs: pass a growable SharedArrayBuffer (maxByteLength >= FrameSystem.bytesFor(...).maximum) or a WebAssembly.Memory with that maximum`,
      );
    }
    const memory = options.memory ?? newWasmMemory(needed, most) ?? newSharedBuffer(SAB, needed, maxFrames > frames ? most : undefined);
    const buffer = bufferOf(memory, needed, true);
    const handle: FrameSystemHandle = { memory, offset };
    initRegion(buffer, offset, layout, checked, autoGrow);
    recordThread(new Int32Array(buffer, offset, HEADER_BYTES >> 2), 1, threadId());
    const sys = new FrameSystem(handle, buffer, layout, checked, 1, options.allocator, options.caches ?? true, options);
    sys.allocator.addFreeMemory(0, frames);
    sys.key = regionId(buffer, offset);
    register(sys.key, sys, options);
    return sys;
  }

  /**
   * Attaches to a region created elsewhere (another worker), taking a new worker id and recording
   * this thread's id in it (`reclaimThread`, `watch`). A thread has one system a region: a second
   * attach on the same thread (or an attach on the thread that created the region) returns the
   * system it has, which `close` closes once every attach of it is closed; with other `options`
   * than that system's it is `FrameUseError('BadValue')`, unless `options.separate` asks for a
   * worker of its own. Throws `FrameSystemError`: `BadHeader` for a header that is missing or
   * corrupt, `Version` for another layout version, `TooManyWorkers` when MAX_WORKERS are attached,
   * `BadMemory` for a handle that is not one. A region made with a custom allocator needs it here
   * too (`options.allocator`).
   *
   * @example
   * ```ts
   * // In a worker: const sys = FrameSystem.attach(workerData.handle). On one thread, one system:
   * console.log(FrameSystem.attach(sys.handle) === sys); // true
   * sys.close(); // that attach's close: sys stays open
   * const other = FrameSystem.attach(sys.handle, { separate: true }); // a worker of its own, here
   * const frame = other.allocFrame(); // from the same region
   * console.log(sys.closed, sys.stats().used, other.workerId); // false 1 2
   * frame.drop();
   * other.close();
   * ```
   */
  static attach(handle: FrameSystemHandle, options: AttachOptions = {}): FrameSystem {
    if (options?.reclaimWaitMs !== undefined) checkTimeout(options.reclaimWaitMs, 'reclaimWaitMs');
    if (options?.separate !== undefined && typeof options.separate !== 'boolean') {
      throw new FrameUseError('BadValue', `attach: separate must be a boolean, not ${describe(options.separate)}`);
    }
    const notHandle = notAHandle(handle, ['memory', 'offset']);
    if (notHandle !== undefined) {
      throw new FrameSystemError(
        'BadMemory',
        `attach needs the handle of a FrameSystem (sys.handle, an object { memory, offset } that postMessage can send), not ${notHandle}`,
      );
    }
    const { memory, offset } = handle;
    checkOffset(offset);
    const { buffer, layout, checked } = readHeader(memory, offset);
    const key = regionId(buffer, offset);
    const had = options.separate === true ? undefined : threadSystem(key);
    if (had !== undefined) {
      if (!sameOptions(options, had.entry.options)) {
        throw new FrameUseError(
          'BadValue',
          `this thread has attached this region already (worker ${had.sys.workerId}) with other options; use that system, close it first, or attach with { separate: true }`,
        );
      }
      had.entry.attaches++;
      return had.sys;
    }
    const head = new Int32Array(buffer, offset, HEADER_BYTES >> 2);
    const workerId = claimWorker(head);
    recordThread(head, workerId, threadId());
    const sys = new FrameSystem({ memory, offset }, buffer, layout, checked, workerId, options.allocator, options.caches ?? true, options);
    if (options.separate !== true) {
      sys.key = key;
      register(key, sys, options);
    }
    return sys;
  }

  /**
   * A zeroed untyped frame (count 1): shorthand for `new FrameAllocOptions(sys).allocFrame()`.
   * Throws `AllocError('NoMemory')` when no frame is free.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.bytes()[0] = 1;
   * console.log(frame.referenceCount, frame.bytes()[1]); // 1 0
   * frame.drop();
   * ```
   */
  allocFrame(): Frame<Untyped>;
  /**
   * A zeroed frame with metadata `meta`, its fields set from `init` (missing ones are zero):
   * shorthand for `new FrameAllocOptions(sys).allocFrameWith(meta, init)`. Throws
   * `AllocError('NoMemory')`, `FrameUseError('BadValue')` for a bad `init`, or `MetaTypeError`
   * if the type cannot be registered here; then nothing changed.
   *
   * @example
   * ```ts
   * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
   * const page = sys.allocFrame(PageMeta, { owner: 7 });
   * console.log(page.meta.owner, page.meta.dirty); // 7 false
   * page.drop();
   * ```
   */
  allocFrame<M extends AnyMeta>(meta: M, init?: InitOf<M>): Frame<M>;
  allocFrame(meta: AnyMeta = Untyped, init?: InitOf<AnyMeta>): Frame<AnyMeta> {
    return (this._options ??= new FrameAllocOptions(this)).allocFrameWith(meta, init);
  }

  /**
   * `nframes` zeroed contiguous untyped frames, all or nothing. Throws `AllocError`:
   * `InvalidArgs` for 0 or a non-integer, `NoMemory` when no such run is free.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(16); // 64 KiB
   * seg.fill(0xff);
   * console.log(seg.nframes, seg.bytes().length); // 16 65536
   * seg.drop();
   * ```
   */
  allocSegment(nframes: number): Segment<Untyped>;
  /**
   * `nframes` zeroed contiguous frames with metadata `meta`, frame `paddr` set from
   * `init(paddr)`; all or nothing (if `init` throws, the frames go back). Errors as above, and
   * those of `allocFrame(meta, init)`.
   *
   * @example
   * ```ts
   * const Block = defineMeta('app.block', { index: 'u32' });
   * const seg = sys.allocSegment(4, Block, (paddr) => ({ index: paddr / PAGE_SIZE }));
   * const frames = [...seg]; // each frame takes its reference over from the segment
   * console.log(frames.map((frame) => frame.meta.index - frame.paddr / PAGE_SIZE)); // [ 0, 0, 0, 0 ]
   * for (const frame of frames) frame.drop();
   * ```
   */
  allocSegment<M extends AnyMeta>(nframes: number, meta: M, init?: (paddr: Paddr) => InitOf<M> | undefined): Segment<M>;
  allocSegment(nframes: number, meta: AnyMeta = Untyped, init?: (paddr: Paddr) => InitOf<AnyMeta> | undefined): Segment<AnyMeta> {
    return (this._options ??= new FrameAllocOptions(this)).allocSegmentWith(nframes, meta, init);
  }

  /**
   * Free frames in the allocator now (in the shared buddy allocator and in every worker's cache);
   * cheaper than `stats().free`.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(10);
   * console.log(sys.freeFrames()); // 54
   * seg.drop();
   * ```
   */
  freeFrames(): number {
    return (this._cache ?? this.allocator).freeFrames?.() ?? this.stats().free;
  }

  /**
   * Ids of the workers attached now (racy: others attach and close at any time).
   *
   * @example
   * ```ts
   * const other = FrameSystem.attach(sys.handle, { separate: true });
   * console.log(sys.workers()); // [ 1, 2 ]
   * other.close();
   * ```
   */
  workers(): number[] {
    return attachedWorkers(this._region);
  }


  /**
   * Checked mode: the handles of this worker that were garbage-collected while they still held a
   * reference (never dropped nor consumed), with their frame, type and allocation stack. Garbage
   * collection decides when (or whether) a leak is seen; an empty list proves nothing. Empty in
   * unchecked mode. The leaked reference stays held: the frame is not freed behind the program's
   * back.
   *
   * @example
   * ```ts
   * const region = FrameSystem.create({ frames: 16, checked: true });
   * region.allocFrame(); // a handle nobody drops: a leak
   * // Once the garbage collector has taken that handle (when, or whether, is its choice):
   * for (const leak of region.leaks()) console.error(`${leak.kind} ${leak.paddr} (${leak.type}) leaked, made at ${leak.stack}`);
   * ```
   */
  leaks(): LeakReport[] {
    return this._leaks?.leaks() ?? [];
  }

  /**
   * Gives this worker's cached free frames back to the shared buddy allocator (it does so by
   * itself before a NoMemory, and on `close`; another worker that runs short takes them without
   * it). Returns how many frames it gave back.
   *
   * @example
   * ```ts
   * sys.allocFrame().drop(); // the frame goes back to this worker's cache (with a few more)
   * console.log(sys.drainCaches() > 0, sys.freeFrames()); // true 64
   * ```
   */
  drainCaches(): number {
    if (!this._closed) this._heap?._trim(); // slabs left empty go to the frame cache first, then with the rest
    return this._cache?.drainCaches() ?? 0;
  }

  /**
   * The heap of small objects on this region's frames (DESIGN "Heap"): `alloc(size, align)`,
   * `free(addr)`, `sizeOf`, `stats`, `trim`. Blocks are named by their address in paddr
   * coordinates, the same in every worker; `bytes` and `dataView` view them.
   *
   * @example
   * ```ts
   * const addr = sys.heap.alloc(12);
   * sys.bytes(addr, 12).set([1, 2, 3]);
   * console.log(sys.bytes(addr, 3)); // Uint8Array(3) [ 1, 2, 3 ]
   * sys.heap.free(addr);
   * sys.heap.trim();
   * ```
   */
  get heap(): Heap {
    return (this._heap ??= new Heap(this));
  }

  /**
   * A zero-copy view of `length` bytes at address `addr` (paddr coordinates): a heap block, or
   * any frame's bytes. `FrameUseError`: `BadValue` for a value that is not a number, `BadRange`
   * for a range that is not integers inside the region.
   *
   * @example
   * ```ts
   * const addr = sys.heap.alloc(4);
   * const view = sys.bytes(addr, 4);
   * view.fill(7);
   * console.log(sys.bytes(addr, 4)[3], view.length); // 7 4
   * sys.heap.free(addr);
   * sys.heap.trim();
   * ```
   */
  bytes(addr: number, length: number): Uint8Array {
    const at = this.byteRange(addr, length, 'bytes');
    const u8 = this._region.mem.u8;
    return new Uint8Array(u8.buffer, u8.byteOffset + at, length);
  }

  /**
   * A `DataView` of `length` bytes at address `addr` (paddr coordinates), for typed fields of a
   * heap block. Errors as `bytes`.
   *
   * @example
   * ```ts
   * const addr = sys.heap.alloc(16);
   * const dv = sys.dataView(addr, 16);
   * dv.setUint32(0, 42, true);
   * dv.setFloat64(8, 0.25, true);
   * console.log(dv.getUint32(0, true), dv.getFloat64(8, true)); // 42 0.25
   * sys.heap.free(addr);
   * sys.heap.trim();
   * ```
   */
  dataView(addr: number, length: number): DataView {
    const at = this.byteRange(addr, length, 'dataView');
    const u8 = this._region.mem.u8;
    return new DataView(u8.buffer, u8.byteOffset + at, length);
  }

  /** The region byte of `addr`, once `addr .. addr + length` is checked to lie in the region. */
  private byteRange(addr: unknown, length: unknown, what: string): number {
    this._assertOpen();
    checkNumber(addr, `${what}'s address`);
    checkNumber(length, `${what}'s length`);
    const r = this._region;
    const ok = (): boolean => Number.isInteger(addr) && Number.isInteger(length) && addr >= 0 && length >= 0 && addr + length <= r.maxPaddr;
    if (!ok() && !(syncFrames(r) && ok())) {
      throw new FrameUseError('BadRange', `${what}(${describe(addr)}, ${describe(length)}): not a range of bytes inside the region's ${r.maxPaddr} bytes of frames`);
    }
    return r.frameByte + addr;
  }

  /**
   * Recovers the share of worker `id`, which has exited (the caller vouches for that, e.g. from
   * the Worker's 'exit' event; this worker's own id is refused). An id names whoever holds it
   * now: a worker that closed its system before it exited freed its id, and a worker that attached
   * since may hold it; reclaiming that id would tear down the live worker's operation in progress
   * and take its cached frames. Use it for a worker that died without `close()`, or name the thread
   * instead (`reclaimThread`, `watch`: thread ids are not reused). Locks it held are taken over and
   * repaired (the buddy allocator's free lists are rebuilt), frames in its caches and frames it
   * was moving between its caches, the allocator and its handles go back to the allocator, a
   * teardown it was in the middle of is completed (without the type's `onDrop`), and its worker
   * id becomes free.
   *
   * References the dead worker still held through handles (or forgot with `intoRaw`) are not
   * known to anyone: their frames stay in use. Hand frames to workers that may die through a
   * `FrameChannel`, or keep a record of them, to take them back with `Frame.fromRaw`.
   *
   * Workers that exit together may be reclaimed one by one, in any order (e.g. from each
   * Worker's 'exit' event): if one of them died holding the allocator lock, the reclaim of
   * another waits for that lock about a second and then returns `pending: true`; the reclaim
   * of the holder then finishes both.
   *
   * Throws `FrameSystemError('BadWorker')` for this worker's own id or an id outside
   * 1..MAX_WORKERS.
   *
   * @example
   * ```ts
   * // With a real worker: worker.on('exit', () => sys.reclaimWorker(id)), id being its workerId.
   * const other = FrameSystem.attach(sys.handle, { separate: true }); // stands for a worker that dies
   * other.allocFrame().drop(); // leaves free frames in its cache
   * const report = sys.reclaimWorker(other.workerId);
   * console.log(report.workerId, report.framesFreed > 0, sys.workers()); // 2 true [ 1 ]
   * ```
   */
  reclaimWorker(id: number): ReclaimReport {
    return this.reclaimWorkers([id])[0];
  }

  /**
   * `reclaimWorker` for several workers that died: the locks any of them held are taken over
   * first, so that one that died holding the allocator lock does not hold up the others' reclaim
   * (one by one, the reclaims before the holder's come back `pending`). Errors as
   * `reclaimWorker`, checked for every id before anything is done.
   *
   * @example
   * ```ts
   * const a = FrameSystem.attach(sys.handle, { separate: true }); // two workers that die together
   * const b = FrameSystem.attach(sys.handle, { separate: true });
   * a.allocFrame().drop();
   * b.allocFrame().drop();
   * const reports = sys.reclaimWorkers([a.workerId, b.workerId]);
   * console.log(reports.map((r) => r.workerId), sys.workers()); // [ 2, 3 ] [ 1 ]
   * ```
   */
  reclaimWorkers(ids: readonly number[]): ReclaimReport[] {
    this._assertOpen();
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 1 || id > MAX_WORKERS || id === this.workerId) {
        throw new FrameSystemError('BadWorker', `reclaimWorker(${describe(id)}): not another worker's id (1..${MAX_WORKERS})`);
      }
    }
    // The heap's caches are taken back after the dead workers' locks are released and before
    // their ids are freed (see `reclaim`), if this region has a heap.
    const heap = this._heap === undefined && !heapInUse(this._region) ? undefined : this.heap;
    return reclaimWorkers(this, ids, this.reclaimWaitMs, heap === undefined ? undefined : (id) => heap._reclaim(id));
  }

  /**
   * `reclaimWorkers` for every worker that thread `thread` attached (its id as the platform gives
   * it: `worker.threadId` of a `worker_threads` Worker, the thread's `threadId` inside it). The
   * caller vouches that the thread has exited, as for `reclaimWorker`; `watch` does it for you.
   * Returns a report per worker (none if the thread attached nothing that is still attached).
   * `FrameSystemError('BadWorker')` for a value that is not a thread id, or for this thread's own.
   *
   * @example
   * ```ts
   * // worker.on('exit', () => sys.reclaimThread(worker.threadId)), or sys.watch(worker)
   * console.log(sys.reclaimThread(4242)); // []: no worker of this region came from thread 4242
   * ```
   */
  reclaimThread(thread: number): ReclaimReport[] {
    this._assertOpen();
    if (typeof thread !== 'number' || !Number.isSafeInteger(thread) || thread < 0) {
      throw new FrameSystemError('BadWorker', `reclaimThread(${describe(thread)}): not a thread id (an integer >= 0)`);
    }
    if (thread === threadId()) {
      throw new FrameSystemError('BadWorker', `reclaimThread(${thread}): that is this thread; a thread cannot reclaim its own workers (close them)`);
    }
    const r = this._region;
    const ids: number[] = [];
    for (let id = 1; id <= MAX_WORKERS; id++) {
      if (id !== this.workerId && workerState(r, id) !== WORKER_FREE && threadOf(r, id) === thread) ids.push(id);
    }
    return ids.length === 0 ? [] : this.reclaimWorkers(ids);
  }

  /**
   * Reclaims, automatically, the workers a thread attached once that thread has exited:
   * `target` is a `worker_threads` Worker (its `'exit'` event), or a pool: its threads now (in
   * `threads`: piscina, tinypool; or its handlers' `worker` in `workers`: workerpool) and every
   * Worker this thread creates from then on (Node's `process` `'worker'` event, and piscina's
   * `'workerCreate'`; reclaiming what an exited thread attached is right whoever made it). Each
   * Worker is watched once, however many times it is given; every `onReclaim` given to `watch`
   * hears of every reclaim `watch` makes. A pool that recycles its threads for hours
   * then never runs out of worker ids. `onReclaim(thread, reports)`, if given, is called after
   * each reclaim (in the watching thread, from the exit event). Nothing happens once this system
   * is closed. `FrameUseError('BadValue')` for a target that is neither.
   *
   * @example
   * ```ts
   * import { Worker } from 'node:worker_threads';
   * const worker = new Worker('process.exit(0)', { eval: true }); // a worker that would attach
   * const thread = worker.threadId; // (Node sets it to -1 once the thread has exited)
   * sys.watch(worker, (t, reports) => console.log(t === thread, reports.length)); // true 0
   * await new Promise((resolve) => worker.once('exit', resolve));
   * ```
   */
  watch(target: WatchTarget, onReclaim?: (thread: number, reports: ReclaimReport[]) => void): void {
    this._assertOpen();
    if (onReclaim !== undefined && typeof onReclaim !== 'function') {
      throw new FrameUseError('BadValue', `watch: onReclaim must be a function, not ${describe(onReclaim)}`);
    }
    if (onReclaim !== undefined) this.onReclaims.add(onReclaim);
    const watchWorker = (worker: WatchableWorker): void => {
      const thread = worker.threadId; // Node sets it to -1 once the thread has exited
      worker.once('exit', () => {
        if (this._closed || thread === threadId()) return;
        const reports = this.reclaimThread(thread);
        for (const fn of this.onReclaims) fn(thread, reports);
      });
    };
    if (isWatchableWorker(target)) {
      if (target.threadId < 0) {
        throw new FrameUseError('BadValue', 'watch: this Worker has exited already (its threadId is -1); call reclaimThread with the threadId it had');
      }
      if (!this.watched.has(target)) {
        this.watched.add(target);
        watchWorker(target);
      }
      return;
    }
    if (isWatchablePool(target)) {
      const watchOnce = (w: unknown): void => {
        if (isWatchableWorker(w) && w.threadId >= 0 && !this.watched.has(w)) {
          this.watched.add(w);
          watchWorker(w);
        }
      };
      // (Every watch of this system shares one set of watched Workers and one process listener;
      // each reclaim is told to every onReclaim given to any watch.)
      for (const w of poolWorkers(target)) watchOnce(w);
      // Threads the pool starts later: piscina says so; every pool's are Workers this thread
      // creates, which Node's process announces at once (before they can exit). Reclaiming what
      // an exited thread attached is right whoever made the thread, so all of them are watched.
      if (typeof target.on === 'function') target.on('workerCreate', () => poolWorkers(target).forEach(watchOnce));
      const proc = nodeProcess();
      if (proc !== undefined && this.unwatchProcess === undefined) {
        proc.on('worker', watchOnce);
        this.unwatchProcess = () => proc.off('worker', watchOnce);
      }
      return;
    }
    throw new FrameUseError('BadValue', `watch needs a worker_threads Worker, or a pool with its Workers in threads (piscina, tinypool) or workers (workerpool), not ${describe(target)}`);
  }

  /**
   * Tears down the deferred drops this worker can run (frames whose last drop happened in a
   * worker that lacks their type's `onDrop`). Returns how many it freed. Allocation does it by
   * itself before it answers `NoMemory`; a worker that defines `onDrop` types may call it now and
   * then (e.g. when idle).
   *
   * @example
   * ```ts
   * console.log(sys.drainDeferred()); // 0: no frame waits for an onDrop defined here
   * ```
   */
  drainDeferred(): number {
    return drainDeferred(this);
  }

  /**
   * Counts the region's frames by state and type (a scan of every slot; racy while other workers
   * run).
   *
   * @example
   * ```ts
   * const Page = defineMeta('app.stats-page', { n: 'u32' });
   * const page = sys.allocFrame(Page);
   * const { total, free, used, shared, byType } = sys.stats();
   * console.log(total, free, used, shared, byType); // 64 63 1 1 { 'app.stats-page': 1 }
   * page.drop();
   * ```
   */
  stats(): FrameStats {
    const total = this.nframes; // brought up to date first: a grow in another worker counts
    const c = countSlots(this._region);
    const byType: Record<string, number> = {};
    for (let id = 1; id < c.byType.length; id++) if (c.byType[id] > 0) byType[typeById(this._region, id).name] = c.byType[id];
    const free = (this._cache ?? this.allocator).freeFrames?.() ?? c.unused;
    // An illegal count word (a broken slot, which checkInvariants reports) is shown busy, as the
    // frame map shows it, so the two agree.
    const busy = c.busy + c.illegal;
    return { total, free, used: total - free, shared: c.shared, unique: c.unique, busy, raw: c.unused - free, byType };
  }

  /**
   * Grows the region by `nframes` frames at its end, from any worker (the kernel's
   * `add_free_memory`): the memory grows, then the new frames go to the allocator; every worker
   * sees them (`nframes`, `stats().total`, frames past the old end) at its next call. Returns the
   * new frame count. Concurrent grows each add exactly their frames. `FrameUseError('BadValue')`
   * for a count that is not a positive safe integer; `FrameSystemError('CannotGrow')` past
   * `maxFrames` or when the memory cannot grow (then nothing changed).
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 16, maxFrames: 64 });
   * console.log(sys.grow(16), sys.stats().free); // 32 32
   * try {
   *   sys.grow(64);
   * } catch (e) {
   *   console.log((e as FrameSystemError).code); // 'CannotGrow'
   * }
   * sys.close();
   * ```
   */
  grow(nframes: number): number {
    this._assertOpen();
    if (!Number.isSafeInteger(nframes) || nframes < 1) {
      throw new FrameUseError('BadValue', `grow: the number of frames is a positive safe integer, not ${describe(nframes)}`);
    }
    return growRegion(this._region, nframes, this.buddy(), this.allocator);
  }

  /** @internal `autoGrow` for an allocation of `needed` frames that found none: whether it grew. */
  _autoGrow(needed: number): boolean {
    const r = this._region;
    syncFrames(r);
    const before = r.nframes;
    const by = autoGrowBy(autoGrowOf(r), needed, before, r.maxFrames);
    if (by === 0) return false;
    try {
      growRegion(r, by, this.buddy(), this.allocator);
      return true;
    } catch (e) {
      // Another worker's grow took the room meanwhile: the allocation looks again if it added any.
      if (e instanceof FrameSystemError && e.code === 'CannotGrow') return r.nframes > before;
      throw e;
    }
  }

  /** The shared buddy allocator the region's frames go to, unless a custom allocator is in use. */
  private buddy(): BuddyAllocator | undefined {
    if (this._cache !== undefined) return this._cache.buddy;
    return this.allocator instanceof BuddyAllocator ? this.allocator : undefined;
  }

  /**
   * The region's memory use now, in bytes from its offset: `committed` (header, metadata room for
   * `maxFrames`, the frames it has) and `reserved` (the same at `maxFrames`: what the memory may
   * grow to), and of that the metadata room (`metadata`, 64 B a frame up to maxFrames).
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 16, maxFrames: 1024 });
   * const m = sys.memory();
   * console.log(m.committed < m.reserved, m.metadata); // true 65536
   * sys.close();
   * ```
   */
  memory(): { readonly committed: number; readonly reserved: number; readonly metadata: number } {
    const r = this._region;
    syncFrames(r);
    return { committed: r.frameByte + r.maxPaddr, reserved: r.frameByte + r.maxFrames * PAGE_SIZE, metadata: r.maxFrames * META_SLOT_SIZE };
  }

  /**
   * The bytes a memory passed to `create` needs for a region of `frames` frames that may grow to
   * `maxFrames` (default `frames`) at byte `offset` (default 0): `initial` now, `maximum` at
   * maxFrames (a growable SharedArrayBuffer's `maxByteLength`, or a WebAssembly.Memory's maximum
   * in 64 KiB pages, rounded up).
   *
   * @example
   * ```ts
   * const { initial, maximum } = FrameSystem.bytesFor({ frames: 16, maxFrames: 256 });
   * const memory = new SharedArrayBuffer(initial, { maxByteLength: maximum });
   * const sys = FrameSystem.create({ frames: 16, maxFrames: 256, memory });
   * console.log(sys.grow(240)); // 256
   * sys.close();
   * ```
   */
  static bytesFor(options: { frames: number; maxFrames?: number; offset?: number }): { initial: number; maximum: number } {
    const { frames, offset = 0 } = options ?? ({} as { frames: number });
    const maxFrames = options?.maxFrames === undefined ? frames : options.maxFrames;
    if (!Number.isInteger(frames) || frames < 1 || frames > MAX_FRAMES) {
      throw new FrameSystemError('BadMemory', `frames must be an integer in 1..${MAX_FRAMES}, not ${describe(frames)}`);
    }
    if (!Number.isInteger(maxFrames) || maxFrames < frames || maxFrames > MAX_FRAMES) {
      throw new FrameSystemError('BadMemory', `maxFrames must be an integer in frames..${MAX_FRAMES}, not ${describe(maxFrames)}`);
    }
    checkOffset(offset);
    const layout = computeLayout(frames, offset, maxFrames);
    return { initial: offset + layout.totalBytes, maximum: offset + layout.maxBytes };
  }

  /**
   * Checks the region invariant (the seed's `MetaRegionOwners::inv`) and the allocator's, and
   * throws `InvariantError` saying where it fails. Only reads. Call it while no operation is in
   * flight in any worker: a slot caught mid-operation is busy, which the check reports.
   *
   * Every slot is exactly one of: UNUSED (no type, no list, storage zero); shared (count
   * 1..REF_COUNT_MAX, a registered type, in no list); UNIQUE (a registered type); busy (count 0)
   * only while on the deferred-drop stack. Free frames in the allocator are UNUSED.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * sys.checkInvariants(); // returns quietly: the region is whole
   * frame.drop();
   * ```
   */
  checkInvariants(): void {
    const r = this._region;
    syncFrames(r); // every frame the region has now, grown ones included
    checkRegion(r);
    const allocator = this._cache ?? this.allocator;
    allocator.checkInvariants?.();
    (this._heap ?? new Heap(this))._check();
    allocator.forEachFree?.((paddr, n) => {
      for (let k = paddr / PAGE_SIZE; k < paddr / PAGE_SIZE + n; k++) {
        if (slotState(r, k) !== SLOT_UNUSED) throw new InvariantError(`frame ${hex(k * PAGE_SIZE)}`, 'free in the allocator but not UNUSED');
      }
    });
  }

  /**
   * Detaches this worker (once every `attach` of it on this thread is closed: until then this
   * ends one attach and changes nothing else): its cached free frames go back to the shared
   * allocator, its worker-table entry is released, and new handles can no longer be made here
   * (`FrameUseError('Closed')`). Every use of a handle made through this system (a frame, segment,
   * borrow, metadata view, reader, list or channel object) is `Closed` too and changes nothing;
   * the references such handles hold stay in use, as a dead worker's do (drop them before
   * closing, or hand them on with `intoRaw`). The memory and the other workers' views are not
   * affected. Idempotent.
   *
   * @example
   * ```ts
   * const other = FrameSystem.attach(sys.handle, { separate: true });
   * other.close(); // its cached frames go back to the shared allocator, its id is free
   * try {
   *   other.allocFrame();
   * } catch (e) {
   *   console.log((e as FrameUseError).code, sys.workers()); // 'Closed' [ 1 ]
   * }
   * ```
   */
  close(): void {
    if (this._closed) return;
    const entry = this.key === undefined ? undefined : thisThread.get(this.key);
    if (entry !== undefined && entry.ref.deref() === this) {
      if (--entry.attaches > 0) return; // another attach of this thread still uses it
      thisThread.delete(this.key!);
    }
    this.unwatchProcess?.();
    this.unwatchProcess = undefined;
    this._heap?._trim();
    this._heap?._close();
    this._cache?.drainCaches();
    this._closed = true;
    this._region.fast = undefined;
    releaseRecord(this._region);
    forgetRegion(this._region);
  }

  /**
   * Whether `close()` was called.
   *
   * @example
   * ```ts
   * const other = FrameSystem.attach(sys.handle, { separate: true });
   * other.close();
   * console.log(sys.closed, other.closed); // false true
   * ```
   */
  get closed(): boolean {
    return this._closed;
  }

  /** @internal */
  _assertOpen(): void {
    if (this._closed) throw new FrameUseError('Closed', `this FrameSystem (worker ${this.workerId}) was closed`);
  }

  /** @internal Gives frames back to the allocator (the caller journaled them). */
  _dealloc(paddr: Paddr, nframes: number): void {
    const cache = this._cache;
    if (cache !== undefined) {
      if (nframes !== 1 || !cache.pushOne(paddr >>> PAGE_SHIFT)) cache.give(paddr, nframes);
    } else this.allocator.dealloc(paddr, nframes);
  }

  /** @internal See `FrameContext._dropLast`. */
  _dropLast(w: number, free: boolean, deallocNow = true): boolean {
    return dropLast(this, w, free, deallocNow);
  }

  /** @internal Takes frames from the allocator, leaving them in the operation journal. */
  _take(nframes: number): Paddr | null {
    return this._cache !== undefined ? this._cache.take(nframes, 1) : this.allocator.alloc(nframes, 1);
  }

  /** `FrameSystem(64 frames, worker 1)` (and `, checked` in checked mode), for logs. */
  toString(): string {
    return `FrameSystem(${this.nframes} frames, worker ${this.workerId}${this.checked ? ', checked' : ''})`;
  }

  /**
   * @internal What `console.log(sys)` shows (Node, Deno, Bun): `FrameSystem(worker 1, 64 frames,
   * may grow to 256, checked)`, or `FrameSystem(worker 1, closed)`; never the memory behind it.
   */
  [INSPECT](): string {
    return inspectSafely(
      () => {
        if (this._closed) return `FrameSystem(worker ${this.workerId}, closed)`;
        const grow = this.maxFrames > this.nframes ? `, may grow to ${this.maxFrames}` : '';
        return `FrameSystem(worker ${this.workerId}, ${this.nframes} frames${grow}${this.checked ? ', checked' : ''})`;
      },
      () => this.toString(),
    );
  }
}


/** Refuses an offset that is not a safe integer multiple of 64, >= 0 (`FrameSystemError('BadMemory')`). */
function checkOffset(offset: unknown): void {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || offset % 64 !== 0) {
    throw new FrameSystemError('BadMemory', `offset must be a non-negative multiple of 64, not ${describe(offset)}`);
  }
}

/** `autoGrow` as the header keeps it (0 off, -1 true, n), or `BadMemory` for a bad value. */
function autoGrowSetting(v: unknown): number {
  if (v === undefined || v === false) return 0;
  if (v === true) return -1;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_FRAMES) return v;
  throw new FrameSystemError('BadMemory', `autoGrow must be a boolean or an integer in 1..${MAX_FRAMES}, not ${describe(v)}`);
}

/**
 * A new SharedArrayBuffer of `bytes` (growable to `maxBytes` when given), or `BadMemory` where the
 * platform cannot make one that large (or a growable one: then `CannotGrow`).
 */
function newSharedBuffer(SAB: typeof SharedArrayBuffer, bytes: number, maxBytes?: number): SharedArrayBuffer {
  try {
    if (maxBytes !== undefined) {
      const b = new (SAB as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer)(bytes, { maxByteLength: maxBytes });
      if (!isGrowable(b)) throw new FrameSystemError('CannotGrow', 'this platform has no growable SharedArrayBuffer: create the region without maxFrames, or in a WebAssembly.Memory');
      return b;
    }
    return new SAB(bytes);
  } catch (e) {
    if (e instanceof FrameSystemError) throw e;
    throw new FrameSystemError('BadMemory', `cannot allocate ${bytes} bytes of shared memory (${(e as Error).message})`);
  }
}
