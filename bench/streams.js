// Stream benchmarks: a producer worker streams `total` bytes to a consumer worker in messages of
// one size, through a FrameChannel, postMessage with a transfer, and ringbuf.js, with at most
// IN_FLIGHT bytes of memory in flight for every transport (see bench/stream-worker.js for what
// each side does). Each figure is the median of several rounds; the transports run interleaved
// within each round, so that a slow stretch of the machine hits them all alike.
import { once } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { FrameChannel, FrameSystem } from '../dist/index.js';
import { median } from './workers.js';

const WORKER = new URL('./stream-worker.js', import.meta.url);
const PAGE = 4096;
/** Memory in flight at most, for every transport: the channel's capacity × the frames of a
 *  message, the transfer window × the message, ringbuf.js's ring. */
const IN_FLIGHT = 4 << 20;

/** @param {Worker} w */
async function answer(w) {
  const [msg] = await once(w, 'message');
  if (msg.error !== undefined) throw new Error(msg.error);
  return msg;
}

/**
 * @param {{ sizes: number[], total: number, minMessages?: number, rounds: number, kinds?: string }} o  `kinds`: only these
 *   `transport:work` pairs (comma-separated), for a quicker look at a few rows
 * @returns {Promise<Array<{ size: number, transport: string, work: string, nsPerMessage: number, mbPerS: number }>>}
 */
export async function streams({ sizes, total, minMessages = 1024, rounds, kinds: only }) {
  // Room for what is in flight, what each side holds, and the per-worker caches.
  const sys = FrameSystem.create({ frames: (IN_FLIGHT / PAGE) * 2 + 1024 });
  const producer = new Worker(WORKER, { workerData: { role: 'producer', handle: sys.handle } });
  const consumer = new Worker(WORKER, { workerData: { role: 'consumer', handle: sys.handle } });
  await Promise.all([answer(producer), answer(consumer)]);

  /** One stream; its time in ns, from the producer's start to the consumer's last message. */
  const run = async (/** @type {string} */ transport, /** @type {string} */ work, /** @type {number} */ size) => {
    const count = Math.max(minMessages, Math.round(total / size));
    /** @type {Record<string, unknown>} */
    const common = { transport, work, size, count };
    /** @type {[Record<string, unknown>, Record<string, unknown>, unknown[], unknown[]]} */
    let msgs;
    /** @type {FrameChannel | undefined} */
    let ch;
    if (transport === 'channel') {
      ch = FrameChannel.create(sys, Math.max(1, IN_FLIGHT / (Math.ceil(size / PAGE) * PAGE)));
      msgs = [{ ...common, channel: ch.handle }, { ...common, channel: ch.handle }, [], []];
    } else if (transport === 'transfer') {
      const { port1, port2 } = new MessageChannel();
      const window = Math.max(1, IN_FLIGHT / size);
      msgs = [{ ...common, port: port1, window }, { ...common, port: port2, window }, [port1], [port2]];
    } else {
      const sab = RingBuffer.getStorageForCapacity(IN_FLIGHT, Uint8Array);
      msgs = [{ ...common, sab }, { ...common, sab }, [], []];
    }
    consumer.postMessage(msgs[1], /** @type {any} */ (msgs[3]));
    await answer(consumer); // ready: waiting for the first message
    const consumed = answer(consumer);
    const produced = answer(producer);
    producer.postMessage(msgs[0], /** @type {any} */ (msgs[2]));
    const { ns } = await consumed; // from the first message's arrival to the last one's read
    await produced;
    ch?.close();
    return { ns, count };
  };

  /** @type {[string, string][]} */
  const all = [
    ['channel', 'set'],
    ['transfer', 'set'],
    ['ringbuf', 'set'],
    ['channel', 'fill'],
    ['channel', 'none'],
    ['transfer', 'none'],
  ];
  const kinds = only === undefined ? all : all.filter(([t, w]) => only.split(',').includes(`${t}:${w}`));
  const out = [];
  for (const size of sizes) {
    for (const [transport, work] of kinds) await run(transport, work, size); // warm-up
    /** @type {number[][]} */
    const times = kinds.map(() => []);
    let count = 0;
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < kinds.length; k++) {
        const t = await run(kinds[k][0], kinds[k][1], size);
        times[k].push(t.ns);
        count = t.count;
      }
    }
    for (let k = 0; k < kinds.length; k++) {
      const ns = median(times[k]);
      out.push({ size, transport: kinds[k][0], work: kinds[k][1], nsPerMessage: ns / (count - 1), mbPerS: ((count - 1) * size) / (ns / 1e9) / 1e6 });
    }
  }
  await Promise.all([producer.terminate(), consumer.terminate()]);
  sys.close();
  return out;
}

// `node bench/streams.js [--quick]`: this benchmark alone, printed.
if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const rows = await streams({ sizes: [256, 4096, 65536, 1 << 20], total: quick ? 16 << 20 : 64 << 20, rounds: quick ? 3 : 5 });
  for (const r of rows) {
    console.log(`${String(r.size).padStart(8)} B ${r.transport.padEnd(9)} ${r.work.padEnd(5)} ${(r.nsPerMessage / 1000).toFixed(2).padStart(9)} µs/msg ${r.mbPerS.toFixed(0).padStart(6)} MB/s`);
  }
}
