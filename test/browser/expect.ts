/**
 * What the browser tests check, whichever browser ran the page (browser.test.ts: Chromium;
 * firefox.test.ts: Firefox ESR): the page's scenario (page.js, worker.js), its clean run, what
 * pageframe found each thread can do, and the typed error of a page without shared memory.
 */
import { expect } from 'vitest';
import type { PageResult, Scenario } from './page.js';
import { CHANNEL_SEED, DROP_SEED, PAGE_SEED, REPLY_SEED, fillPattern, seen, type Seen } from './common.js';

/**
 * Stops at the first sign of trouble with everything the browser said, before any value is
 * compared: the scenario's own error (with its step), errors from the worker, console errors.
 */
export function expectClean(result: PageResult, problems: string[]): void {
  const trouble = {
    step: result.error === null ? null : result.step,
    // A V8 stack starts with the name and the message.
    error: result.error === null ? null : (result.error.stack ?? `${result.error.name}: ${result.error.message}`),
    workerErrors: result.workerErrors,
    problems,
  };
  expect(trouble).toEqual({ step: null, error: null, workerErrors: [], problems: [] });
}

/** What a side that reads a whole frame with pattern `seed` must report. */
function expected(seed: number): Seen {
  const bytes = new Uint8Array(4096);
  fillPattern(bytes, seed);
  return seen(bytes, seed);
}

export function expectScenario(s: Scenario, checked: boolean): void {
  expect(s.workerId).toBe(1);
  expect(s.checked).toBe(checked);

  // Shared memory of either kind (FrameSystem.create picks one); the handle brings the same kind.
  expect(['SharedArrayBuffer', 'shared WebAssembly.Memory']).toContain(s.memory);

  // The worker attached to the page's region: its own id, the same frames, checked inherited.
  // In the worker: it may block, and has WebAssembly threads and Atomics.waitAsync.
  const support = { sharedMemory: true, blocking: true, wasm: true, waitAsync: 'native' };
  expect(s.attach).toEqual({ workerId: 2, workers: [1, 2], nframes: 64, checked, crossOriginIsolated: true, memory: s.memory, support });
  expect(s.workersAfterAttach).toEqual([1, 2]);

  // 1. By address to the worker and back; the page kept a clone all along.
  const h = s.handover;
  expect(h.countBeforeSend).toBe(2);
  expect(h.worker.countOnArrival).toBe(2); // the page's clone + the reference taken over
  expect(h.worker.countWithClone).toBe(3);
  expect(h.worker.seen).toEqual(expected(PAGE_SEED)); // every byte the page wrote, read in place
  expect(h.worker.seen.head).toEqual([153, 212, 15, 74, 133, 192, 251, 54]);
  expect(h.worker.backPaddr).toBe(h.paddr);
  expect(h.replyViaClone).toEqual(expected(REPLY_SEED)); // the worker's writes, seen by the page
  expect(h.replyViaClone.hash).not.toBe(h.worker.seen.hash);
  expect(h.backSamePaddr).toBe(true);
  expect(h.countWithBack).toBe(2);
  expect(h.countAfterBackDrop).toBe(1);

  // 2. The last drop happens in the worker; the page sees the frame free.
  const d = s.dropInWorker;
  expect(d.worker.countOnArrival).toBe(1);
  expect(d.worker.seen).toEqual(expected(DROP_SEED));
  expect(d.worker.fromInUseAfterDrop).toBe('Unused');
  expect(d.usedAfter).toBe(d.usedBefore - 1);

  // 3. Typed frames (one type, defined in both) through a channel to the worker's receiveAsync.
  const n = s.notes;
  expect(n.worker.capacity).toBe(4);
  expect(n.worker.received).toEqual([
    { seq: 1, count: 2, hitsOnArrival: 1, type: 'browser-test.note' },
    { seq: 2, count: 1, hitsOnArrival: 1, type: 'browser-test.note' },
    { seq: 3, count: 1, hitsOnArrival: 1, type: 'browser-test.note' },
  ]);
  expect(n.worker.drops).toEqual([2, 3]); // last drops in the worker ran the worker's onDrop
  expect(n.byTypeWhileKept).toEqual({ 'browser-test.note': 1, 'pageframe.channel': 1 });
  expect(n.keptCount).toBe(1);
  expect(n.keptHits).toBe(11); // the page's +1 and the worker's +10, on one atomic field
  expect(n.pageDrops).toEqual([1]); // and the page's last drop ran the page's onDrop

  // 4. Back through the worker's channel: the main thread may not block, receiveAsync works.
  const c = s.channelBack;
  expect(c.blockingReceive).toMatchObject({ name: 'FrameUseError', code: 'WouldBlock' });
  expect(c.sent.countAfterSend).toBe(2);
  expect(c.samePaddr).toBe(true);
  expect(c.seen).toEqual(expected(CHANNEL_SEED));
  expect(c.count).toBe(2);
  expect(c.worker).toEqual({ keptCountBeforeDrop: 2, workersBeforeClose: [1, 2] });
  expect(c.countAfterWorkerDrop).toBe(1);

  // Everything dropped, the worker detached: all frames free, the invariant holds.
  expect(s.workersAtEnd).toEqual([1]);
  // Growth: the page grew 64 -> 192; the worker, attached at 64, saw it and filled frames past the old end.
  expect([s.growth.nframesBefore, s.growth.nframesAfter, s.growth.worker.nframesSeen]).toEqual([64, 192, 192]);
  expect(s.growth.worker.paddrs).toHaveLength(150);
  expect(s.growth.pastOldEnd).toBeGreaterThan(0);
  expect(s.growth.allRead).toBe(true);
  expect(s.stats).toEqual({ total: 192, free: 192, used: 0, shared: 0, unique: 0, busy: 0, raw: 0, byType: {} });
  expect(s.invariants).toBeNull();
}

/** A cross-origin-isolated page's run: clean, shared memory, the scenario's values. */
export function expectIsolatedRun(result: PageResult, problems: string[], checked: boolean): void {
  expectClean(result, problems);
  expect(result.crossOriginIsolated).toBe(true);
  expect(result.sharedArrayBuffer).toBe('function');
  // The page's main thread may not block; WebAssembly threads and Atomics.waitAsync work (both
  // browsers tested have them: Chromium 156, Firefox ESR 153).
  expect(result.support).toEqual({ sharedMemory: true, blocking: false, wasm: true, waitAsync: 'native' });
  expect(result.mode).toBe('scenario');
  expect(result.scenario).not.toBeNull();
  expectScenario(result.scenario as Scenario, checked);
}

/** A page served without COOP/COEP: no SharedArrayBuffer, and create says which headers to send. */
export function expectNotIsolatedRun(result: PageResult, problems: string[]): void {
  expectClean(result, problems);
  expect(result.crossOriginIsolated).toBe(false);
  expect(result.sharedArrayBuffer).toBe('undefined');
  expect(result.support).toEqual({ sharedMemory: false, blocking: false, wasm: false, waitAsync: 'timer' });
  expect(result.mode).toBe('no-shared-memory');
  expect(result.scenario).toBeNull();
  expect(result.create?.isFrameSystemError).toBe(true);
  expect(result.create?.error).toMatchObject({ name: 'FrameSystemError', code: 'BadMemory' });
  expect(result.create?.error?.message).toContain('SharedArrayBuffer is not available');
  expect(result.create?.error?.message).toContain('Cross-Origin-Opener-Policy: same-origin');
  expect(result.create?.error?.message).toContain('Cross-Origin-Embedder-Policy: require-corp');
}
