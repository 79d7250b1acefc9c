// The worker side of the multi-worker benchmarks (see bench/workers.js).
import { parentPort as port, workerData } from 'node:worker_threads';
import { FrameAllocOptions, FrameChannel, FrameSystem } from '../dist/index.js';

if (port === null) throw new Error('bench/worker.js runs as a worker thread');
const parentPort = port;
const { mode } = workerData;

if (mode === 'churn') {
  // Single-frame allocation and drop in a loop: the per-worker caches' fast path.
  const sys = FrameSystem.attach(workerData.handle);
  const options = new FrameAllocOptions(sys).zeroed(false);
  // The machine's own parallelism, for comparison: a loop over private memory that shares
  // nothing with the other worker and allocates nothing.
  const own = new Int32Array(1024);
  let sink = 0;
  /** @param {number} n */
  const plain = (n) => {
    for (let i = 0; i < n * 16; i++) {
      own[i & 1023] += i;
      sink ^= own[(i * 7) & 1023];
    }
  };
  /** @param {number} n */
  const frames = (n) => {
    for (let i = 0; i < n; i++) options.allocFrame().drop();
  };
  parentPort.on('message', (/** @type {{ iterations: number, plain: boolean }} */ msg) => {
    const t0 = process.hrtime.bigint();
    (msg.plain ? plain : frames)(msg.iterations);
    parentPort.postMessage({ ns: Number(process.hrtime.bigint() - t0), sink });
  });
  parentPort.postMessage({ ready: true });
} else if (mode === 'channel-echo') {
  // Takes each segment from one channel and sends it back on the other, until the input ends.
  const sys = FrameSystem.attach(workerData.handle);
  const input = FrameChannel.open(sys, workerData.input);
  const output = FrameChannel.open(sys, workerData.output);
  parentPort.postMessage({ ready: true });
  for (;;) {
    const seg = input.receiveSegment();
    if (seg === null || seg.nframes === 0) break;
    output.send(seg);
  }
} else if (mode === 'grow') {
  // Growth, in a worker of its own (one region in the thread, as in an application): the cost of
  // grow per frame added, and single-frame alloc+drop in a region before and after it grew.
  const { rounds, iterations, growBy, grows } = workerData;
  const sys = FrameSystem.create({ frames: 1024, maxFrames: 1024 + growBy * grows });
  const options = new FrameAllocOptions(sys).zeroed(false);
  /** ns per alloc+drop, median of `rounds` loops of `iterations` */
  const churn = () => {
    const out = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) options.allocFrame().drop();
      out.push(Number(process.hrtime.bigint() - t0) / iterations);
    }
    return out.sort((a, b) => a - b)[out.length >> 1];
  };
  churn(); // warm-up
  const before = churn();
  const perFrame = [];
  for (let g = 0; g < grows; g++) {
    const t0 = process.hrtime.bigint();
    sys.grow(growBy);
    perFrame.push(Number(process.hrtime.bigint() - t0) / growBy);
  }
  // Frames past the old end in use from here on: the caches are refilled from the grown part.
  const spread = [];
  for (let i = 0; i < 2048; i++) spread.push(options.allocFrame());
  for (const f of spread) f.drop();
  const after = churn();
  parentPort.postMessage({ before, after, growNsPerFrame: perFrame.sort((a, b) => a - b)[perFrame.length >> 1], nframes: sys.nframes });
} else if (mode === 'busy') {
  // A CPU-bound loop that shares nothing, until its stop word is set: load on the machine. (It
  // stops by itself: Deno's terminate() does not stop a thread that never yields.)
  const stop = new Int32Array(workerData.stop);
  parentPort.postMessage({ ready: true });
  let x = 0;
  while (Atomics.load(stop, 0) === 0) for (let i = 0; i < 100_000; i++) x = (x * 1103515245 + 12345) | 0;
  parentPort.postMessage({ x });
} else if (mode === 'post-echo') {
  // Sends back whatever arrives: a copy (structured clone) or a transfer.
  parentPort.on('message', (/** @type {{ data: Uint8Array, transfer: boolean }} */ msg) => {
    parentPort.postMessage(msg, msg.transfer ? [/** @type {ArrayBuffer} */ (msg.data.buffer)] : []);
  });
  parentPort.postMessage({ ready: true });
}
