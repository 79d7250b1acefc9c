/**
 * The waiters' adaptive polling budget (src/shm/spin.ts): what `spin` answers, and how each
 * outcome moves the budget. The clock is the real one; each case waits at most a few ms.
 */
import { describe, expect, it } from 'vitest';
import { MAX_SPIN_MS, MIN_SPIN_MS, SpinBudget } from '../../src/shm/spin.js';
import { now } from '../../src/shm/wait.js';

/** Busy-waits `ms` (a stand-in for a thread the scheduler took the CPU from). */
function stall(ms: number): void {
  const end = now() + ms;
  while (now() < end);
}

describe('SpinBudget', () => {
  it('starts at the least budget and answers true as soon as the condition holds', () => {
    const b = new SpinBudget();
    expect(b.ms).toBe(MIN_SPIN_MS);
    let polls = 0;
    expect(b.spin(() => ++polls === 5, Infinity)).toBe(true);
    expect(polls).toBe(5);
    expect(b.ms).toBe(MIN_SPIN_MS);
  });

  it('gives up after about its budget, or at the deadline if that comes first', () => {
    const b = new SpinBudget();
    b.ms = 1;
    let t0 = now();
    expect(b.spin(() => false, Infinity)).toBe(false);
    // A full 1 ms, unless this thread was descheduled meanwhile (then it stopped early, at the least budget).
    if (b.ms === 1) expect(now() - t0).toBeGreaterThanOrEqual(1);
    else expect(b.ms).toBe(MIN_SPIN_MS);
    b.ms = 60_000; // a minute: the deadline (1 ms away) ends the spin long before
    t0 = now();
    expect(b.spin(() => false, t0 + 1)).toBe(false);
    expect(now() - t0).toBeLessThan(30_000);
  });

  it('stops at once, and falls to the least budget, when it finds it was descheduled', () => {
    const b = new SpinBudget();
    b.ms = MAX_SPIN_MS;
    b.ms = 60_000; // a minute: only the stall can end this spin soon
    let polls = 0;
    // The 10th poll takes 1 ms, as a thread that lost its CPU: the next look at the clock (every
    // 32 polls) sees it.
    expect(b.spin(() => (++polls === 10 ? (stall(1), false) : false), Infinity)).toBe(false);
    expect(polls).toBe(32);
    expect(b.ms).toBe(MIN_SPIN_MS);
  });

  it('grows after a short sleep (to cover it), goes to the most after a missed stream, halves after a long sleep', () => {
    const b = new SpinBudget();
    b.slept(0.01); // shorter than the budget: doubles
    expect(b.ms).toBe(2 * MIN_SPIN_MS);
    b.slept(0.5); // polling 0.625 ms would have caught it
    expect(b.ms).toBeCloseTo(0.625);
    b.slept(1.9);
    expect(b.ms).toBe(MAX_SPIN_MS); // never past the most
    b.slept(50); // polling would not have helped
    expect(b.ms).toBe(MAX_SPIN_MS / 2);
    for (let i = 0; i < 20; i++) b.slept(100);
    expect(b.ms).toBe(MIN_SPIN_MS); // never below the least
    b.slept(50, true); // the partner went on while this waiter slept: a stream
    expect(b.ms).toBe(MAX_SPIN_MS);
  });
});
