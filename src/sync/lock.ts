/**
 * A lock in shared memory that records its owner, so that a lock held by a worker that died can
 * be found and recovered (`forceRelease`) instead of hanging everyone else.
 *
 * Two words: `[owner, waiters]`. `owner` is 0 when free, else the holder's worker id (>= 1).
 * A waiter spins briefly, then sleeps in `Atomics.wait` where the platform allows it (not on a
 * browser's main thread, where it keeps spinning).
 */

const SPINS = 64;

let canWaitCache: boolean | undefined;

/** Whether this thread may block in `Atomics.wait` (false on a browser's main thread). */
export function canBlock(): boolean {
  if (canWaitCache === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      canWaitCache = true;
    } catch {
      canWaitCache = false;
    }
  }
  return canWaitCache;
}

/** Takes the lock at word `at` for worker `owner` (>= 1). */
export function lock(i32: Int32Array, at: number, owner: number): void {
  if (Atomics.compareExchange(i32, at, 0, owner) === 0) return;
  lockSlow(i32, at, owner, Infinity);
}

/** `lock`, giving up after about `ms` milliseconds: whether it was taken. */
export function lockWithin(i32: Int32Array, at: number, owner: number, ms: number): boolean {
  if (Atomics.compareExchange(i32, at, 0, owner) === 0) return true;
  return lockSlow(i32, at, owner, Date.now() + ms);
}

function lockSlow(i32: Int32Array, at: number, owner: number, deadline: number): boolean {
  const block = canBlock();
  for (let round = 0; ; round++) {
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.load(i32, at) === 0 && Atomics.compareExchange(i32, at, 0, owner) === 0) return true;
    }
    if (deadline !== Infinity && Date.now() >= deadline) return false;
    if (!block) continue;
    const holder = Atomics.load(i32, at);
    if (holder === 0) continue;
    // ORDER: the waiter count is raised before re-checking the word in Atomics.wait, so an
    // unlock that stores 0 after our check sees waiters > 0 and notifies.
    Atomics.add(i32, at + 1, 1);
    Atomics.wait(i32, at, holder, round < 4 ? 1 : 10);
    Atomics.sub(i32, at + 1, 1);
  }
}

/** Releases the lock at `at`; wakes one sleeper if any. */
export function unlock(i32: Int32Array, at: number): void {
  Atomics.store(i32, at, 0);
  // Notify only when someone sleeps: Atomics.notify takes a global lock in V8 (~25 ns idle).
  if (Atomics.load(i32, at + 1) > 0) Atomics.notify(i32, at, 1);
}

/** The worker id that holds the lock, or 0. */
export function lockOwner(i32: Int32Array, at: number): number {
  return Atomics.load(i32, at);
}

/**
 * Releases a lock held by `deadOwner` (a worker that has exited), after the caller repaired what
 * it protects. Returns false if `deadOwner` did not hold it.
 */
export function forceRelease(i32: Int32Array, at: number, deadOwner: number): boolean {
  if (Atomics.compareExchange(i32, at, deadOwner, 0) !== deadOwner) return false;
  if (Atomics.load(i32, at + 1) > 0) Atomics.notify(i32, at, 1);
  return true;
}
