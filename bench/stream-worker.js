// The two threads of the stream benchmarks (bench/streams.js): a producer and a consumer, each a
// worker that runs one stream per command from the main thread. The transports:
//   channel   — a FrameChannel: the producer allocates a segment (not zeroed), writes it and sends
//               it; the consumer receives it, reads it and drops it (only addresses move);
//   transfer  — postMessage with a transfer over a MessagePort: a fresh ArrayBuffer per message,
//               credits sent back by the consumer bound what is in flight;
//   ringbuf   — ringbuf.js (a single-producer single-consumer byte ring in a SharedArrayBuffer):
//               the producer copies in, the consumer copies out into its own buffer (both spin).
// The work on the bytes:
//   set       — the producer writes the message with `Uint8Array.prototype.set` from a private
//               source buffer; the consumer reads every byte (a sum over 32-bit words);
//   fill      — (channel only) the producer writes with the library's `fill` (WebAssembly
//               memory.fill); the consumer reads every byte;
//   none      — the hand-off alone: nothing written, the consumer reads one byte per message.
import { parentPort as port, workerData } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { FrameAllocOptions, FrameChannel, FrameSystem } from '../dist/index.js';

if (port === null) throw new Error('bench/stream-worker.js runs as a worker thread');
const parentPort = port;
const { role } = workerData;
const PAGE = 4096;

/** The producer's private source of every message's bytes. */
const source = new Uint8Array(1 << 20);
for (let i = 0; i < source.length; i++) source[i] = (i * 31 + 7) & 0xff;

/** Every byte of `bytes` (a multiple of 4 long, 4-aligned), read as 32-bit words. */
function sum(/** @type {Uint8Array} */ bytes) {
  const w = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  let s = 0;
  for (let i = 0; i < w.length; i++) s = (s + w[i]) | 0;
  return s;
}

/** The region of every channel run (made by the main thread, attached once). */
const sys = FrameSystem.attach(workerData.handle);

/**
 * @typedef {{ transport: 'channel' | 'transfer' | 'ringbuf', work: 'set' | 'fill' | 'none', size: number, count: number,
 *   channel?: import('../dist/index.js').FrameChannelHandle,
 *   port?: import('node:worker_threads').MessagePort, window?: number, sab?: SharedArrayBuffer }} Run
 */

/** @param {Run} run */
async function produce(run) {
  const { size, count, work } = run;
  const src = source.subarray(0, size);
  if (run.transport === 'channel') {
    const ch = FrameChannel.open(sys, /** @type {any} */ (run.channel));
    const options = new FrameAllocOptions(sys).zeroed(false);
    const frames = Math.ceil(size / PAGE);
    for (let i = 0; i < count; i++) {
      const seg = options.allocSegment(frames);
      if (work === 'set') seg.bytes().set(src);
      else if (work === 'fill') seg.fill(i & 0xff);
      ch.send(seg);
    }
    ch.end();
    ch.close();
  } else if (run.transport === 'transfer') {
    const mp = /** @type {import('node:worker_threads').MessagePort} */ (run.port);
    const window = /** @type {number} */ (run.window);
    let inFlight = 0;
    /** @type {(() => void) | null} */
    let wakeUp = null;
    mp.on('message', (/** @type {number} */ credits) => {
      inFlight -= credits;
      const w = wakeUp;
      wakeUp = null;
      w?.();
    });
    for (let i = 0; i < count; i++) {
      while (inFlight >= window) await new Promise((resolve) => (wakeUp = () => resolve(undefined)));
      const data = new Uint8Array(size);
      if (work === 'set') data.set(src);
      mp.postMessage(data, [data.buffer]);
      inFlight += 1;
    }
    mp.close();
  } else {
    const rb = new RingBuffer(/** @type {SharedArrayBuffer} */ (run.sab), Uint8Array);
    for (let i = 0; i < count; i++) {
      let done = 0;
      while (done < size) done += rb.push(src, size - done, done);
    }
  }
}

/**
 * @param {Run} run
 * @returns {Promise<[number, number]>} the checksum, and the time from the first message's
 *   arrival to the last one's read (ns): the stream's steady state, without the start-up (the
 *   first wake-up of a consumer that waited, the producer's first steps) that no transport avoids
 */
async function consume(run) {
  const { size, count, work } = run;
  let check = 0;
  let first = 0n;
  if (run.transport === 'channel') {
    const ch = FrameChannel.open(sys, /** @type {any} */ (run.channel));
    parentPort.postMessage({ ready: true });
    let n = 0;
    for (let seg = ch.receiveSegment(); seg !== null; seg = ch.receiveSegment()) {
      if (n === 0) first = process.hrtime.bigint();
      const bytes = seg.bytes();
      check = (check + (work === 'none' ? bytes[0] : sum(bytes.subarray(0, size)))) | 0;
      seg.drop();
      n += 1;
    }
    ch.close();
    if (n !== count) throw new Error(`channel: ${n} of ${count} messages`);
  } else if (run.transport === 'transfer') {
    const mp = /** @type {import('node:worker_threads').MessagePort} */ (run.port);
    const window = /** @type {number} */ (run.window);
    const every = Math.max(1, window >> 2); // credits go back in batches of a quarter window
    await new Promise((resolve) => {
      let n = 0;
      let owed = 0;
      mp.on('message', (/** @type {Uint8Array} */ data) => {
        if (n === 0) first = process.hrtime.bigint();
        check = (check + (work === 'none' ? data[0] : sum(data))) | 0;
        n += 1;
        owed += 1;
        if (owed === every || n === count) {
          mp.postMessage(owed);
          owed = 0;
        }
        if (n === count) resolve(undefined);
      });
      parentPort.postMessage({ ready: true });
    });
    mp.close();
  } else {
    const rb = new RingBuffer(/** @type {SharedArrayBuffer} */ (run.sab), Uint8Array);
    const into = new Uint8Array(size);
    parentPort.postMessage({ ready: true });
    for (let i = 0; i < count; i++) {
      let done = 0;
      while (done < size) {
        done += rb.pop(into, size - done, done);
        if (i === 0 && done > 0 && first === 0n) first = process.hrtime.bigint();
      }
      check = (check + sum(into)) | 0;
    }
  }
  return [check, Number(process.hrtime.bigint() - first)];
}

parentPort.on('message', (/** @type {Run} */ run) => {
  const go = role === 'producer' ? produce(run).then(() => ({})) : consume(run).then(([check, ns]) => ({ check, ns }));
  go.then(
    (result) => parentPort.postMessage({ done: true, ...result }),
    (e) => parentPort.postMessage({ error: String(e?.stack ?? e) }),
  );
});
parentPort.postMessage({ ready: true });
