/**
 * A lock in shared memory that records its owner, so that a lock held by a worker that died can
 * be found and recovered (`forceRelease`) instead of hanging everyone else.
 *
 * Two words: `[owner, sleepers]`. `owner` is 0 when free, else the holder's lock token (its
 * worker id and record generation, >= 1). A waiter spins briefly, then sleeps (`wait.ts`) where
 * the platform allows it (not on a browser's main thread, where it keeps spinning), or awaits
 * (`sleepOnLockAsync`). The one lock of the library: the header's locks, the lists' and the
 * channels' (`lockTakingOver`). docs/waits.md lists who waits for which, and for how long.
 */

import { SpinBudget } from './spin.js';
import { canBlock, now, sleepOn, sleepOnAsync, wake } from './wait.js';

const SPINS = 64;

/**
 * Takes the lock at word `at` for worker `owner` (>= 1).
 * ORDER: the CAS that takes the lock reads the 0 stored by the last `unlock`, so the holder sees
 * everything the previous holder wrote under the lock.
 */
export function lock(i32: Int32Array, at: number, owner: number): void {
  if (Atomics.compareExchange(i32, at, 0, owner) === 0) return;
  lockSlow(i32, at, owner, Infinity);
}

/** `lock`, giving up after about `ms` milliseconds: whether it was taken. ORDER: as `lock`. */
export function lockWithin(i32: Int32Array, at: number, owner: number, ms: number): boolean {
  if (Atomics.compareExchange(i32, at, 0, owner) === 0) return true;
  return lockSlow(i32, at, owner, now() + ms);
}

/**
 * `lock` for a lock whose holder may be taken over once it is gone (the channel's): when the
 * holder's token no longer names a live worker (`isGone(i32, token)`: a plain function, so that
 * taking the lock allocates no closure), the lock passes to `owner` in one CAS
 * from that token, so of two workers that see it gone only one gets it. Only for structures whose
 * every change ends with one final write, so that a holder that died mid-change left them whole
 * (verify/channel.pml; BROKEN_TAKEOVER_LIVE is the same without the `isGone` check).
 * Gives up after about `ms` milliseconds (default: never): whether it was taken. A gone holder's
 * lock is taken over even by a waiter whose time is up (`ms` 0: a CAS, spins and that look).
 * ORDER: as `lock`; a takeover CAS reads the gone holder's token, after which its writes are seen.
 */
export function lockTakingOver(
  i32: Int32Array,
  at: number,
  owner: number,
  isGone: (i32: Int32Array, token: number) => boolean,
  ms = Infinity,
): boolean {
  if (Atomics.compareExchange(i32, at, 0, owner) === 0) return true;
  return lockSlow(i32, at, owner, now() + ms, isGone);
}

/**
 * Waits without blocking the thread (`Atomics.waitAsync`, or polling) while the lock at `at` is
 * held by `holder` (the caller saw it held by `holder` after its last try), at most `ms`; the
 * caller then tries again. A gone holder never unlocks: `ms` bounds the wait then.
 * ORDER and OWNER: as `sleepOnAsync` (wait.ts); counted as a sleeper, which `unlock` wakes.
 */
export function sleepOnLockAsync(i32: Int32Array, at: number, holder: number, ms: number): Promise<void> {
  return sleepOnAsync(i32, at, holder, at + 1, ms);
}

/** This thread's polling budget before it sleeps on a held lock (`spin.ts`): one for every lock. */
const budget = new SpinBudget();

/** The waiting half of the `lock*` functions. ORDER: as `lock`; a sleeper counts itself (`sleepOn`). */
function lockSlow(i32: Int32Array, at: number, owner: number, deadline: number, isGone?: (i32: Int32Array, token: number) => boolean): boolean {
  const block = canBlock();
  const free = (): boolean => Atomics.load(i32, at) === 0 && Atomics.compareExchange(i32, at, 0, owner) === 0;
  for (let round = 0; ; round++) {
    for (let i = 0; i < SPINS; i++) if (free()) return true;
    const holder = Atomics.load(i32, at);
    if (holder !== 0 && isGone !== undefined && isGone(i32, holder) && Atomics.compareExchange(i32, at, holder, owner) === holder) return true;
    // Poll for up to the budget (a live holder keeps it for one short change), then sleep.
    if (holder !== 0 && budget.spin(free, deadline)) return true;
    let left = Infinity;
    if (deadline !== Infinity) {
      left = deadline - now();
      if (left <= 0) return false;
    }
    // A gone holder never unlocks: sleep briefly (never past the deadline), then look again.
    const seen = Atomics.load(i32, at);
    if (seen !== 0 && block) {
      const t0 = now();
      sleepOn(i32, at, seen, at + 1, Math.min(round < 4 ? 1 : 10, left));
      budget.slept(now() - t0);
    }
  }
}

/** Releases the lock at `at`; wakes one sleeper if any. */
export function unlock(i32: Int32Array, at: number): void {
  // ORDER: everything the lock protects is written before this store; the next holder's CAS
  // reads it, so it sees those writes.
  Atomics.store(i32, at, 0);
  wake(i32, at, at + 1);
}

/** The worker id that holds the lock, or 0. */
export function lockOwner(i32: Int32Array, at: number): number {
  return Atomics.load(i32, at);
}

/**
 * Releases a lock held by `deadOwner` (a worker that has exited), after the caller repaired what
 * it protects. Returns false if `deadOwner` did not hold it.
 * ORDER: as `unlock`: the repairs are written before the CAS that frees the lock.
 */
export function forceRelease(i32: Int32Array, at: number, deadOwner: number): boolean {
  if (Atomics.compareExchange(i32, at, deadOwner, 0) !== deadOwner) return false;
  wake(i32, at, at + 1);
  return true;
}
