/**
 * How long a waiter polls before it sleeps: an adaptive budget, as KVM's halt polling. A waiter
 * that sleeps costs its waker a notify (~1 µs) and itself a wake-up: ~20 µs on an idle machine,
 * but 0.5–5 ms on a virtual machine whose idle CPU the host took back, and then a stream whose two
 * sides take turns to sleep runs at a fraction of its speed. A waiter that polls sees the change
 * in well under a microsecond, but takes a CPU that another thread may need.
 *
 * So each waiter keeps a budget: it polls at most that long, then sleeps. A sleep that ended soon
 * (within MAX_SPIN_MS) says that polling longer would have caught it: the budget grows to cover
 * it. A sleep after which the waiter finds that its partner went on without it (more than one
 * change waiting) says a stream is running: the budget goes to the most. A sleep that lasted
 * longer says polling would not have helped: the budget halves.
 * A waiter that finds it was descheduled while it polled (the clock jumped between two polls) sees
 * that the CPUs are contended, and polling takes the CPU its partner needs: it sleeps at once and
 * its budget falls to the minimum. Plain per-thread state: nothing here is shared.
 */
import { now } from './wait.js';

/** The least budget (ms): a round trip to a polling partner on another core is ~1–5 µs. */
export const MIN_SPIN_MS = 0.02;
/** The most (ms): about the longest wake-up that polling should cover. */
export const MAX_SPIN_MS = 2;
/** A gap between two looks at the clock longer than this (ms) means the thread was descheduled. */
const PREEMPTED_MS = 0.2;
/** Polls between two looks at the clock. */
const POLLS = 32;

/**
 * A waiter's polling budget (see the module).
 *
 * @internal
 */
export class SpinBudget {
  /** The budget now (ms). */
  ms = MIN_SPIN_MS;

  /**
   * Polls `ready` until it holds (true), the budget or `deadline` runs out, or this thread finds
   * it was descheduled meanwhile (false for those).
   */
  spin(ready: () => boolean, deadline: number): boolean {
    let last = now();
    const end = Math.min(last + this.ms, deadline);
    for (let i = 1; ; i++) {
      if (ready()) return true;
      if (i % POLLS === 0) {
        const t = now();
        if (t - last > PREEMPTED_MS) {
          this.ms = MIN_SPIN_MS;
          return false;
        }
        if (t >= end) return false;
        last = t;
      }
    }
  }

  /**
   * After a sleep that lasted `ms` (woken, or timed out): grow or halve the budget. `missed`: the
   * partner went on working while this waiter slept (it found more than one change waiting when
   * it woke): a stream is running, and the budget goes to the most at once.
   */
  slept(ms: number, missed = false): void {
    if (missed) this.ms = MAX_SPIN_MS;
    else this.ms = ms <= MAX_SPIN_MS ? Math.min(MAX_SPIN_MS, Math.max(this.ms * 2, ms * 1.25)) : Math.max(MIN_SPIN_MS, this.ms / 2);
  }
}
