// Multi-worker benchmarks: allocation throughput on 1 and 2 workers, and hand-off of 4 KiB and
// 1 MiB between two threads through a FrameChannel versus postMessage (copy and transfer).
// Each figure is the median of several rounds, all in this process and this run.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { FrameChannel, FrameSystem } from '../dist/index.js';

const WORKER = new URL('./worker.js', import.meta.url);

/** @param {object} workerData */
async function start(workerData) {
  const w = new Worker(WORKER, { workerData });
  await once(w, 'message'); // ready
  return w;
}

/** @param {number[]} xs */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Frames allocated and dropped per second by 1 worker, and by 2 at once on one region; and, in
 * rounds interleaved with those, the same for a plain loop over private memory: how well this
 * machine runs two threads at once while the frame rounds run (the ceiling for their scaling).
 * Each scaling is the median over rounds of (2 workers / 1 worker) measured back to back.
 * @param {{ rounds: number, iterations: number }} o
 */
export async function scaling({ rounds, iterations }) {
  const sys = FrameSystem.create({ frames: 4096 });
  const workers = [await start({ mode: 'churn', handle: sys.handle }), await start({ mode: 'churn', handle: sys.handle })];
  /** @param {Worker[]} ws @param {boolean} plain */
  const run = async (ws, plain) => {
    const t0 = process.hrtime.bigint();
    const done = ws.map((w) => once(w, 'message'));
    for (const w of ws) w.postMessage({ iterations, plain });
    await Promise.all(done);
    const ns = Number(process.hrtime.bigint() - t0);
    return (ws.length * iterations) / (ns / 1e9);
  };
  for (const plain of [false, true]) {
    await run(workers, plain); // warm-up: both JITs hot
    await run([workers[0]], plain);
  }
  /** @type {Record<'frames' | 'plain', { one: number[], two: number[], ratio: number[] }>} */
  const m = { frames: { one: [], two: [], ratio: [] }, plain: { one: [], two: [], ratio: [] } };
  for (let r = 0; r < rounds; r++) {
    for (const kind of /** @type {const} */ (['frames', 'plain'])) {
      const one = await run([workers[0]], kind === 'plain');
      const two = await run(workers, kind === 'plain');
      m[kind].one.push(one);
      m[kind].two.push(two);
      m[kind].ratio.push(two / one);
    }
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return {
    nsPerOp1: 1e9 / median(m.frames.one),
    nsPerOp2: 1e9 / median(m.frames.two),
    scaling: median(m.frames.ratio),
    plainNsPerOp1: 1e9 / median(m.plain.one),
    plainNsPerOp2: 1e9 / median(m.plain.two),
    machineScaling: median(m.plain.ratio),
  };
}

/**
 * Round trip of `bytes` between this thread and a worker: through two FrameChannels (the
 * segment's references travel, the bytes stay), and by postMessage with a copy and a transfer.
 * @param {{ bytes: number, rounds: number, trips: number }} o
 */
export async function handoff({ bytes, rounds, trips }) {
  const frames = bytes / 4096;
  const sys = FrameSystem.create({ frames: frames + 64 });
  const input = FrameChannel.create(sys, 4);
  const output = FrameChannel.create(sys, 4);
  const echo = await start({ mode: 'channel-echo', handle: sys.handle, input: input.handle, output: output.handle });
  const seg = sys.allocSegment(frames);
  seg.bytes()[0] = 1;
  /** @type {import('../dist/index.js').Segment} */
  let held = seg;
  const channelRound = () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < trips; i++) {
      input.send(held);
      const back = output.receiveSegment();
      if (back === null) throw new Error('no echo');
      held = back;
    }
    return Number(process.hrtime.bigint() - t0) / trips;
  };
  channelRound();
  const viaChannel = [];
  for (let r = 0; r < rounds; r++) viaChannel.push(channelRound());
  input.end(); // the echo leaves its blocking receive (Deno's terminate() would not stop it there)
  await echo.terminate();
  held.drop();
  input.close();
  output.close();

  const poster = await start({ mode: 'post-echo' });
  /** @param {boolean} transfer */
  const postRound = async (transfer) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < trips; i++) {
      const data = new Uint8Array(bytes);
      data[0] = 1;
      poster.postMessage({ data, transfer }, transfer ? [data.buffer] : []);
      await once(poster, 'message');
    }
    return Number(process.hrtime.bigint() - t0) / trips;
  };
  await postRound(false);
  const viaCopy = [];
  const viaTransfer = [];
  for (let r = 0; r < rounds; r++) {
    viaCopy.push(await postRound(false));
    viaTransfer.push(await postRound(true));
  }
  await poster.terminate();
  return { channelNs: median(viaChannel), copyNs: median(viaCopy), transferNs: median(viaTransfer) };
}

/**
 * Latency of a 4 KiB round trip through two FrameChannels (this thread → an echo worker → this
 * thread), one trip at a time: the median and the 99th percentile, on an otherwise idle machine
 * and with `busy` other workers running a CPU-bound loop meanwhile (on a 2-core machine, one busy
 * worker leaves the two channel threads one core between them).
 * @param {{ trips: number, busy: number }} o
 */
export async function roundTrip({ trips, busy }) {
  const sys = FrameSystem.create({ frames: 256 });
  const input = FrameChannel.create(sys, 4);
  const output = FrameChannel.create(sys, 4);
  const echo = await start({ mode: 'channel-echo', handle: sys.handle, input: input.handle, output: output.handle });
  const spinners = [];
  const stop = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < busy; i++) spinners.push(await start({ mode: 'busy', stop: stop.buffer }));
  /** @type {import('../dist/index.js').Frame} */
  let held = sys.allocFrame();
  const ns = new Float64Array(trips);
  for (let i = -Math.min(1000, trips); i < trips; i++) {
    const t0 = process.hrtime.bigint();
    input.send(held);
    const back = output.receive();
    if (back === null) throw new Error('no echo');
    held = back;
    if (i >= 0) ns[i] = Number(process.hrtime.bigint() - t0);
  }
  // Both stop by themselves first: Deno's terminate() does not stop a thread that never yields.
  Atomics.store(stop, 0, 1);
  input.end();
  await Promise.all([echo, ...spinners].map((w) => w.terminate()));
  held.drop();
  input.close();
  output.close();
  sys.close();
  ns.sort();
  return { medianNs: ns[trips >> 1], p99Ns: ns[Math.floor(trips * 0.99)] };
}

/**
 * Growth in a worker of its own: `sys.grow(growBy)` `grows` times (the median time per frame
 * added), and single-frame alloc+drop (not zeroed) before and after the region grew (medians of
 * `rounds` loops of `iterations`).
 * @param {{ rounds: number, iterations: number, growBy: number, grows: number }} o
 */
export async function growth(o) {
  const w = new Worker(WORKER, { workerData: { mode: 'grow', ...o } });
  const [msg] = await once(w, 'message');
  await w.terminate();
  return /** @type {{ before: number, after: number, growNsPerFrame: number, nframes: number }} */ (msg);
}
