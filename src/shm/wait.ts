/**
 * Waiting in shared memory, in one place: whether this thread may block, a sleep on a word
 * that counts its sleepers (so that a waker notifies only when someone sleeps), its
 * non-blocking twin on `Atomics.waitAsync` (or a timer, where probe.ts found it missing or
 * wrong), and a plain nap. The lock (`lock.ts`) and the
 * channel wait through these.
 *
 * Every sleep here is bounded by its caller's `ms`: a waker that dies between its change and its
 * notify must never leave a sleeper asleep for ever (verify/channel.pml found that case); callers
 * re-check their condition after every return.
 */

import { canBlock, nativeWaitAsync, waitAsyncOverran } from './probe.js';

/**
 * The clock of every deadline in the library: monotonic (`performance.now()`), so that a wall
 * clock set back or forward (`Date.now()`, which NTP may step) neither ends a wait early nor
 * stretches it. Milliseconds, with a fraction.
 */
export const now: () => number =
  typeof performance !== 'undefined' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now();

// canBlock is a probe of the runtime, kept with the others (probe.ts); re-exported here, where
// every wait has always found it.
export { canBlock };

/**
 * Sleeps at most `ms` while word `at` still reads `seen`, counted in the sleeper word
 * `sleepersAt` meanwhile. The caller must have read `seen` before it last checked its
 * condition, and must be allowed to block (`canBlock()`).
 *
 * ORDER: the sleeper count is raised before `Atomics.wait` re-reads the word, so a waker that
 * changes the word after our read either makes the wait return at once or, reading the count
 * after its change, notifies (`wake`).
 * OWNER: the sleeper word is shared by every sleeper on `at`; each adds and removes only its own 1.
 */
export function sleepOn(i32: Int32Array, at: number, seen: number, sleepersAt: number, ms: number): void {
  Atomics.add(i32, sleepersAt, 1);
  Atomics.wait(i32, at, seen, ms);
  Atomics.sub(i32, sleepersAt, 1);
}

/** How long past its timeout a native `Atomics.waitAsync` may still end before this thread stops using it (probe.ts). */
const OVERRUN_GRACE_MS = 50;

/**
 * `sleepOn` without blocking the thread: resolves once word `at` no longer reads `seen`, or
 * after at most `ms`. It waits with `Atomics.waitAsync` where that passed its probe (probe.ts),
 * else it polls once a millisecond. A native wait that has not ended by its timeout is not
 * awaited any longer (the bound holds on a runtime whose waits never end); one that has not
 * ended `OVERRUN_GRACE_MS` later either makes this thread poll from then on.
 * ORDER: as `sleepOn`. OWNER: as `sleepOn`.
 */
export async function sleepOnAsync(i32: Int32Array, at: number, seen: number, sleepersAt: number, ms: number): Promise<void> {
  Atomics.add(i32, sleepersAt, 1);
  // A pending Atomics.waitAsync does not keep Node's event loop alive: a timer does, and it must
  // outlive the wait (timers count whole milliseconds: one of 4.9 ms would fire at 4, and the
  // loop would end with the wait still pending). It also ends a native wait that overruns.
  let keepAlive: ReturnType<typeof setTimeout> | undefined;
  let grace: ReturnType<typeof setTimeout> | undefined;
  const timer = new Promise<false>((resolve) => (keepAlive = setTimeout(() => resolve(false), Math.ceil(ms) + 1)));
  try {
    const waitAsync = nativeWaitAsync();
    if (waitAsync !== null) {
      const r = waitAsync(i32, at, seen, ms);
      if (r.async) {
        const ended = (r.value as Promise<string>).then(() => true);
        if (!(await Promise.race([ended, timer]))) {
          const late = new Promise<false>((resolve) => (grace = setTimeout(() => resolve(false), OVERRUN_GRACE_MS)));
          if (!(await Promise.race([ended, late]))) waitAsyncOverran();
        }
      }
    } else {
      await new Promise((resolve) => setTimeout(resolve, Math.min(ms, 1)));
    }
  } finally {
    clearTimeout(keepAlive);
    clearTimeout(grace);
    Atomics.sub(i32, sleepersAt, 1);
  }
}

/**
 * Wakes up to `count` sleepers on word `at`, if the sleeper word `sleepersAt` says there are
 * any: `Atomics.notify` takes a global lock in V8 (~25 ns even with nobody to wake).
 * ORDER: called after the change the sleepers wait for (see `sleepOn`).
 */
export function wake(i32: Int32Array, at: number, sleepersAt: number, count = 1): void {
  if (Atomics.load(i32, sleepersAt) > 0) Atomics.notify(i32, at, count);
}

let napWord: Int32Array | undefined;

/** Blocks the thread for about `ms` where it may block; returns at once where it may not. */
export function nap(ms: number): void {
  if (!canBlock()) return;
  napWord ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(napWord, 0, 0, ms);
}
