// The worker side of the heap benchmark (see bench/heap.js): 64-byte alloc+free pairs in a
// loop, or one end of an alloc-here-free-there pipe, with pageframe's heap or with
// @daneren2005/shared-memory-objects on memory shared with the other workers.
import { parentPort as port, workerData } from 'node:worker_threads';
import { FrameSystem } from '../dist/index.js';
import { shimWorkerGlobals } from './peers.js';

if (port === null) throw new Error('bench/heap-worker.js runs as a worker thread');
const parentPort = port;
const { lib, role } = workerData;

/** alloc(bytes) → an address (a number), free(address): the library under test, in this worker. */
let alloc;
/** @type {(addr: number) => void} */
let free;
if (lib === 'pageframe') {
  const sys = FrameSystem.attach(workerData.handle);
  const heap = /** @type {{ heap: { alloc(n: number): number, free(a: number): void } }} */ (/** @type {unknown} */ (sys)).heap;
  alloc = (/** @type {number} */ n) => heap.alloc(n);
  free = (/** @type {number} */ a) => heap.free(a);
} else {
  shimWorkerGlobals();
  const { MemoryHeap, createPointer, getPointer } = await import(workerData.smo);
  const heap = new MemoryHeap(workerData.memory);
  alloc = (/** @type {number} */ n) => {
    const m = heap.allocUI32(n >> 2);
    return createPointer(m.bufferPosition, m.bufferByteOffset);
  };
  free = (/** @type {number} */ p) => heap.getSharedAlloc(getPointer(p)).free();
}

// A single-producer single-consumer ring of addresses: [0] head (taken), [1] tail (put), slots.
const ring = workerData.ring === undefined ? undefined : new Int32Array(workerData.ring);
const CAP = ring === undefined ? 0 : ring.length - 2;
/** Waits a moment for the other end of the ring. @param {number} i @param {number} seen */
const nap = (i, seen) => {
  if (ring !== undefined) Atomics.wait(ring, i, seen, 0.05);
};

parentPort.on('message', (/** @type {{ iterations: number }} */ msg) => {
  const n = msg.iterations;
  const t0 = performance.now();
  if (role === 'pairs') {
    for (let i = 0; i < n; i++) free(alloc(64));
  } else if (role === 'producer' && ring !== undefined) {
    for (let i = 0; i < n; i++) {
      const a = alloc(64);
      let tail = ring[1];
      while (tail - Atomics.load(ring, 0) >= CAP) nap(0, Atomics.load(ring, 0));
      ring[2 + (tail % CAP)] = a;
      Atomics.store(ring, 1, ++tail); // ORDER: the slot is written before the tail that publishes it
      if ((tail & 63) === 0) Atomics.notify(ring, 1);
    }
    Atomics.notify(ring, 1);
  } else if (role === 'consumer' && ring !== undefined) {
    for (let i = 0; i < n; i++) {
      let head = ring[0];
      while (Atomics.load(ring, 1) === head) nap(1, head);
      free(ring[2 + (head % CAP)] >>> 0); // addresses are unsigned
      Atomics.store(ring, 0, ++head);
      if ((head & 63) === 0) Atomics.notify(ring, 0);
    }
  }
  parentPort.postMessage({ ms: performance.now() - t0 });
});
parentPort.postMessage({ ready: true });
