/**
 * What the runtime running this file does that a pageframe application must know, asserted as
 * the README's "Runtimes" section states it for Node, Deno and Bun (`npm test` runs this file on
 * each). If a runtime changes, this fails, and the README (and these expectations) must follow.
 *
 * Deno's `worker.terminate()` (node:worker_threads and Web Workers alike, Deno 2.9) only asks the
 * worker's event loop to stop: a thread that is in a JS loop, or blocked in a loop of
 * `Atomics.wait` as a blocking `receive()` is, runs on, and the Worker's 'exit' event has fired
 * already (denoland/deno#14003, #35657). So a region must not reclaim such a worker on 'exit'.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FrameChannel, FrameSystem } from '../../src/index.js';
import { RUNTIME } from './current.js';

const WORKER = new URL('./terminate.worker.js', import.meta.url);
const COUNT = 0;
const STOP = 1;

/** Does the count still move in the `ms` after terminate() resolved (and 'exit' fired)? */
async function movesAfter(words: Int32Array, ms: number): Promise<boolean> {
  const before = Atomics.load(words, COUNT);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return Atomics.load(words, COUNT) !== before;
}

/** Whether `terminate()` stops a thread that does not return to its event loop, on this runtime. */
const TERMINATE_STOPS_BUSY_THREADS = { node: true, bun: true, deno: false }[RUNTIME];

describe(`worker.terminate() on ${RUNTIME}`, () => {
  it(`${TERMINATE_STOPS_BUSY_THREADS ? 'stops' : 'does not stop'} a worker busy in a JS loop, though 'exit' has fired`, async () => {
    const words = new Int32Array(new SharedArrayBuffer(8));
    const w = new Worker(WORKER, { workerData: { kind: 'spin', words } });
    await once(w, 'message');
    const exited = once(w, 'exit');
    await w.terminate();
    await exited;
    const moved = await movesAfter(words, 100);
    Atomics.store(words, STOP, 1); // a thread that outlived terminate() ends now
    expect(moved).toBe(!TERMINATE_STOPS_BUSY_THREADS);
  });

  it(`${TERMINATE_STOPS_BUSY_THREADS ? 'stops' : 'does not stop'} a worker blocked in a channel's receive(): ${TERMINATE_STOPS_BUSY_THREADS ? 'an item sent after stays queued' : 'it takes the next item'}`, async () => {
    const sys = FrameSystem.create({ frames: 16 });
    const ch = FrameChannel.create(sys, 4);
    const words = new Int32Array(new SharedArrayBuffer(8));
    const w = new Worker(WORKER, { workerData: { kind: 'receive', words, handle: sys.handle, channel: ch.handle } });
    await once(w, 'message');
    await new Promise((resolve) => setTimeout(resolve, 20)); // it sleeps in receive()
    await w.terminate();
    ch.send(sys.allocFrame());
    const deadline = performance.now() + 500;
    while (Atomics.load(words, COUNT) === 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    const taken = Atomics.load(words, COUNT) === 1;
    Atomics.store(words, STOP, 1);
    ch.end(); // a receiver that outlived terminate() gets null and leaves its loop
    expect(taken).toBe(!TERMINATE_STOPS_BUSY_THREADS);
    expect(ch.size).toBe(taken ? 0 : 1);
    ch.tryReceive()?.drop();
    ch.close();
    // The dead worker's record is still attached: reclaimed here, once it has really stopped.
    await new Promise((resolve) => setTimeout(resolve, 100));
    sys.reclaimWorker(2);
    expect(sys.workers()).toEqual([1]);
    expect(sys.stats().used).toBe(1); // the channel's ring: the dead worker's handle to it died with it
    sys.checkInvariants();
  });
});
