// A worker that runs out of free frames and must take the runs the main thread caches (a steal,
// `CachedAllocator.stealCaches`), and is stopped at a named step of it: after the runs were won
// and settled, before they are freed, the allocator lock held. It posts { step, workerId, raw }
// (raw: the frames it holds raw, for the main thread to give back) and blocks for ever; the main
// thread then terminates it.
import { parentPort as port, workerData } from 'node:worker_threads';
import { BuddyAllocator, CachedAllocator, FrameSystem } from '../../dist/index.js';

if (port === null) throw new Error('steal-death.worker.js runs as a worker thread');
const out = port;
/** @type {{ handle: import('../../dist/index.js').FrameSystemHandle }} */
const data = workerData;
const sys = FrameSystem.attach(data.handle);
const cache = sys.allocator;
if (!(cache instanceof CachedAllocator)) throw new Error('expected the default allocator');

let stealing = false;
const steal = CachedAllocator.prototype.stealCaches;
CachedAllocator.prototype.stealCaches = function () {
  stealing = true;
  return steal.call(this);
};
/** `freeRunsLocked` is internal: not in the published types. @type {any} */
const buddyProto = BuddyAllocator.prototype;
const free = buddyProto.freeRunsLocked;
/** @type {number[]} */
const raw = [];
buddyProto.freeRunsLocked = function (/** @type {readonly (readonly [number, number])[]} */ runs) {
  if (stealing) {
    out.postMessage({ step: 'steal: runs won and settled, not yet freed (allocator lock held)', workerId: sys.workerId, raw, runs });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // stopped here for ever
  }
  return free.call(this, runs);
};

// Raw frames, one at a time, until the buddy level and this worker's cache are empty: the next
// allocation steals.
for (;;) {
  const p = cache.alloc(1, 1);
  if (p === null) break;
  raw.push(p);
}
out.postMessage({ step: 'never', workerId: sys.workerId, raw });
