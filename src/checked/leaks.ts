/**
 * Checked mode's leak detector: every handle made in this worker is registered with a
 * `FinalizationRegistry`, and unregistered when it is dropped or consumed. A handle that the
 * garbage collector takes while it still holds a reference is reported with the frame's address,
 * its metadata type and the stack where the handle was made. Report only: the reference stays
 * (freeing from a finalizer would hide the bug and race with the program).
 */

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

/** What the tracker needs of a handle. */
export interface Trackable {
  readonly paddr?: number;
  readonly startPaddr?: number;
}

export class LeakTracker {
  private readonly found: LeakReport[] = [];
  private readonly registry = new FinalizationRegistry<Omit<LeakReport, 'stack'> & { site: { stack?: string } }>((held) => {
    const { site, ...rest } = held;
    // Formatted only now: capturing a stack is cheap, formatting it (source positions) is not.
    const report: LeakReport = { ...rest, stack: site.stack ?? '' };
    this.found.push(report);
    this.onLeak?.(report);
  });

  constructor(
    private readonly onLeak?: (report: LeakReport) => void,
    /** Whether to capture the stack where each handle is made (~2.5 µs a handle in V8). */
    private readonly stacks = true,
  ) {}

  /** Starts watching `handle` (called as it is made). */
  track(handle: object, kind: string, paddr: number, nframes: number, type: string): void {
    const site: { stack?: string } = { stack: '(stack not captured: leakStacks is false)' };
    // The frames from the handle's constructor up are left out: they hold the handle itself as
    // receiver, and a captured stack keeps its frames' receivers alive (the handle would never
    // be collected).
    const capture = (Error as { captureStackTrace?: (target: object, above?: unknown) => void }).captureStackTrace;
    if (!this.stacks) {
      // leave the placeholder
    } else if (capture !== undefined) capture(site, handle.constructor);
    else site.stack = new Error().stack;
    this.registry.register(handle, { kind, paddr, nframes, type, site }, handle);
  }

  /** Stops watching `handle` (it was dropped or consumed). */
  untrack(handle: object): void {
    this.registry.unregister(handle);
  }

  /** The leaks reported so far. */
  leaks(): LeakReport[] {
    return [...this.found];
  }
}
