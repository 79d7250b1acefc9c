// A demo consumer: takes frames from the channel (a blocking receive: this thread has nothing else
// to do), verifies their bytes in place, drops them.
import { parentPort as port, workerData } from 'node:worker_threads';
import { FrameChannel, FrameSystem } from '../../dist/index.js';
import { Block, STOP, checksum } from './demo-shared.js';

if (port === null) throw new Error('demo-worker.js runs as a worker thread');
const sys = FrameSystem.attach(workerData.handle);
const channel = FrameChannel.open(sys, workerData.channel);
port.postMessage({ workerId: sys.workerId });

let done = 0;
let bad = 0;
for (;;) {
  const frame = /** @type {import('../../dist/index.js').Frame<typeof Block>} */ (channel.receive(Block)); // blocks until a frame comes
  const stop = frame.meta.seq === STOP;
  if (!stop) {
    if (checksum(frame.bytes()) !== frame.meta.checksum.load()) bad++;
    done++;
  }
  frame.drop(); // the last reference: the frame goes back to this worker's cache of free frames
  if (stop) break;
}
channel.close();
sys.close(); // gives its cached frames back to the shared allocator
port.postMessage({ done, bad });
