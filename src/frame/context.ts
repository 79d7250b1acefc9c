/**
 * `FrameContext`: what a frame handle needs of the region it belongs to, and what every entry
 * point that makes a handle takes (`Frame.fromInUse(sys, paddr)`, `new FrameAllocOptions(sys)`,
 * `LinkedList.create(sys, meta)`, ...). `FrameSystem` implements it: pass `sys`. Typing the
 * handles against this interface rather than against `FrameSystem` is what keeps `frame/`
 * below `system.ts` (see docs/layers.md: no import cycle, not even of types).
 */
import type { GlobalFrameAllocator } from '../base/global-allocator.js';
import type { Paddr } from '../base/units.js';
import type { LeakTracker } from '../checked/leaks.js';
import type { CachedAllocator } from '../frame-allocator/cache.js';
import type { FrameSystemHandle } from '../region/header.js';
import type { Region } from '../region/region.js';

/**
 * One worker's view of a region, as the handles see it: a `FrameSystem`. Every function that
 * takes a `FrameContext` takes the `sys` that `FrameSystem.create` or `FrameSystem.attach` gave.
 *
 * @example
 * ```ts
 * const context: FrameContext = sys; // a FrameSystem is one
 * const frame = new FrameAllocOptions(context).allocFrame();
 * console.log(context.workerId, frame.paddr < context.maxPaddr); // 1 true
 * frame.drop();
 * ```
 */
export interface FrameContext {
  /** This worker's id in the region's worker table. */
  readonly workerId: number;
  /** Frames in the region. */
  readonly nframes: number;
  /** `nframes * PAGE_SIZE`: every paddr is below it. */
  readonly maxPaddr: number;
  /** Whether the seed's contracts are checked at run time. */
  readonly checked: boolean;
  /** The region's memory and offset (structured-cloneable). */
  readonly handle: FrameSystemHandle;
  /** The allocator frames come from. */
  readonly allocator: GlobalFrameAllocator;
  /** Free frames in the allocator now. */
  freeFrames(): number;
  /** Tears down the deferred drops this worker can run; how many it freed. */
  drainDeferred(): number;
  /** @internal This worker's view of the region: what the protocol's functions take. */
  readonly _region: Region;
  /** @internal Checked mode's leak detector (this worker's handles). */
  readonly _leaks: LeakTracker | undefined;
  /** @internal The default allocator's caches, when in use. */
  readonly _cache: CachedAllocator | undefined;
  /** @internal True once the system was closed in this worker: its handles refuse every use. */
  readonly _closed: boolean;
  /** @internal Throws `FrameUseError('Closed')` once the system was closed in this worker. */
  _assertOpen(): void;
  /** @internal Gives frames back to the allocator (the caller journaled them). */
  _dealloc(paddr: Paddr, nframes: number): void;
  /**
   * @internal Tears down the busy slot at word `w` after its last reference (`teardown.ts`
   * `dropLast`: `onDrop`, clear, and with `free` back to the allocator, now or, with `deallocNow`
   * false, by the caller); false if it was deferred to a worker that has the type's `onDrop`.
   */
  _dropLast(w: number, free: boolean, deallocNow?: boolean): boolean;
  /** @internal Takes frames from the allocator, leaving them in the operation journal. */
  _take(nframes: number): Paddr | null;
  /** @internal `autoGrow` for an allocation of `needed` frames that found none: whether the region grew. */
  _autoGrow(needed: number): boolean;
}
