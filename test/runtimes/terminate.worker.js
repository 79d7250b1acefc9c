// A worker for test/runtimes/facts.test.ts that never returns to its event loop until told to:
// 'spin' counts in a JS loop; 'receive' takes frames from a channel with the blocking receive()
// (a loop of Atomics.wait) and counts them. Both stop once the test sets the stop word, or (for
// 'receive') the channel ends, so a thread that outlives terminate() still ends by itself.
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ kind: 'spin' | 'receive', words: Int32Array, handle?: import('../../dist/index.js').FrameSystemHandle, channel?: import('../../dist/index.js').FrameChannelHandle }} */
const { kind, words, handle, channel } = workerData;
const COUNT = 0;
const STOP = 1;

if (kind === 'spin') {
  parentPort?.postMessage('ready');
  while (Atomics.load(words, STOP) === 0) Atomics.add(words, COUNT, 1);
} else {
  const { FrameChannel, FrameSystem } = await import('../../dist/index.js');
  if (handle === undefined || channel === undefined) throw new Error('receive needs a region and a channel');
  const sys = FrameSystem.attach(handle);
  const ch = FrameChannel.open(sys, channel);
  parentPort?.postMessage('ready');
  while (Atomics.load(words, STOP) === 0) {
    const f = ch.receive(undefined, 50); // blocks this thread
    if (f === null) {
      if (ch.ended) break;
      continue;
    }
    Atomics.add(words, COUNT, 1);
    f.drop();
  }
}
