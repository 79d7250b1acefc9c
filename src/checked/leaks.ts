/**
 * Checked mode's leak detector: every handle made in this worker is watched by a
 * `FinalizationRegistry` until it is dropped or consumed. A handle that the garbage collector
 * takes while it still holds a reference is reported with the frame's address, its metadata type
 * and the stack where the handle was made. Report only: the reference stays (freeing from a
 * finalizer would hide the bug and race with the program).
 *
 * Registration is deferred: a new handle waits in a short list, and is registered only if it is
 * still alive when the list is flushed (at the end of the current job, a microtask, or once the
 * list is full). Most handles are dropped before that, and a registration and its unregistration
 * cost about 200 ns in V8 (Node 20), five times an unchecked allocation. A handle dropped right
 * after it was made (the last one listed, as in `alloc().drop()` or `clone().drop()`) simply
 * leaves the list. The list holds its handles strongly, so a leaked handle can be collected (and
 * reported) only after the flush: one job later than if it were registered at once.
 */
import { PAGE_SIZE } from '../base/units.js';

/** A handle that was garbage-collected without `drop` (or a consuming call). */
export interface LeakReport {
  /** `Frame`, `UniqueFrame` or `Segment`. */
  readonly kind: string;
  /** The frame's address (the segment's first frame). */
  readonly paddr: number;
  /** Frames the handle held a reference to. */
  readonly nframes: number;
  /** The metadata type's name. */
  readonly type: string;
  /** Where the handle was made (its allocation stack). */
  readonly stack: string;
}

/** What the tracker reads of a handle, when it registers it. */
export interface Trackable {
  /** @internal False once dropped or consumed. */
  readonly _live: boolean;
  /** @internal `Frame`, `UniqueFrame` or `Segment`. */
  readonly _kind: string;
  /** @internal The address of the first frame. */
  readonly _start: number;
  /** Bytes covered. */
  readonly size: number;
  /** @internal The metadata type. */
  readonly _type: { readonly name: string };
}

/** Where a handle was made: a captured stack, formatted only when read. */
type Site = { stack?: string };

/** What the registry keeps of a handle (never the handle itself: it would never be collected). */
type Held = Omit<LeakReport, 'stack'> & { site: Site | undefined };

/** Handles listed before a flush is forced (bounds what the list keeps alive). */
const PENDING_MAX = 256;

const NO_STACK = '(stack not captured: leakStacks is false)';

export class LeakTracker {
  private readonly found: LeakReport[] = [];
  /** Handles made since the last flush, not yet registered (some dropped since). */
  private readonly pending: Trackable[] = [];
  /** `pending`'s allocation stacks, index for index (empty without stacks). */
  private readonly sites: Site[] = [];
  /** Handles registered and not yet unregistered or reported. */
  private registered = 0;
  /** Whether a flush is queued for the end of this job. */
  private queued = false;
  private readonly flushQueued = (): void => {
    this.queued = false;
    this.flush();
  };
  private readonly registry = new FinalizationRegistry<Held>((held) => {
    this.registered--;
    // Formatted only now: capturing a stack is cheaper than formatting it (source positions).
    const report: LeakReport = { kind: held.kind, paddr: held.paddr, nframes: held.nframes, type: held.type, stack: held.site?.stack ?? NO_STACK };
    this.found.push(report);
    this.onLeak?.(report);
  });

  constructor(
    private readonly onLeak?: (report: LeakReport) => void,
    /** Whether to capture the stack where each handle is made (1 to 4 µs a handle in V8: the
     *  stack walk, dearest through optimised frames). */
    private readonly stacks = true,
  ) {}

  /** Starts watching `handle` (called as it is made, once its fields are set). */
  track(handle: Trackable): void {
    const pending = this.pending;
    if (this.stacks) {
      const site: Site = {};
      // The frames from the handle's constructor up are left out: they hold the handle itself as
      // receiver, and a captured stack keeps its frames' receivers alive (the handle would never
      // be collected).
      // Looked up at each call (a test stands in for it, to stop a worker while it makes a handle).
      const capture = (Error as { captureStackTrace?: (target: object, above?: unknown) => void }).captureStackTrace;
      if (capture !== undefined) capture(site, handle.constructor);
      else site.stack = new Error().stack;
      this.sites.push(site);
    }
    pending.push(handle);
    if (pending.length >= PENDING_MAX) this.flush();
    else if (!this.queued) {
      this.queued = true;
      queueMicrotask(this.flushQueued);
    }
  }

  /** Stops watching `handle` (it was dropped or consumed). */
  untrack(handle: Trackable): void {
    const pending = this.pending;
    const last = pending.length - 1;
    if (last >= 0 && pending[last] === handle) {
      pending.pop();
      if (this.stacks) this.sites.pop();
    } else if (this.registered !== 0 && this.registry.unregister(handle)) {
      this.registered--;
    }
    // Otherwise it is still listed, dead: the flush skips it.
  }

  /** Registers the listed handles that are still alive, and empties the list. */
  private flush(): void {
    const pending = this.pending;
    const sites = this.sites;
    for (let i = 0; i < pending.length; i++) {
      const h = pending[i];
      if (!h._live) continue;
      const held: Held = { kind: h._kind, paddr: h._start, nframes: h.size / PAGE_SIZE, type: h._type.name, site: sites[i] };
      this.registry.register(h, held, h);
      this.registered++;
    }
    pending.length = 0;
    sites.length = 0;
  }

  /** The leaks reported so far. */
  leaks(): LeakReport[] {
    return [...this.found];
  }
}
