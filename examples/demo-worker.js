// A demo consumer: takes frames by address, verifies their bytes in place, drops them.
import { parentPort as port, workerData } from 'node:worker_threads';
import { Frame, FrameSystem } from 'pageframe';
import { Block, checksum } from './demo-shared.js';

if (port === null) throw new Error('demo-worker.js runs as a worker thread');
const parentPort = port;
const sys = FrameSystem.attach(workerData.handle);
parentPort.postMessage({ attached: sys.workerId });

parentPort.on('message', (/** @type {number[]} */ paddrs) => {
  let bad = 0;
  for (const paddr of paddrs) {
    const f = Frame.fromRaw(sys, paddr, Block); // takes over the reference the producer forgot
    if (checksum(f.bytes()) !== f.meta.checksum.load()) bad++;
    f.drop(); // the last reference: the frame goes back to the shared allocator
  }
  parentPort.postMessage({ done: paddrs.length, bad });
});
