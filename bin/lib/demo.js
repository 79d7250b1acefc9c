// The pageframe demo (`npm start`, `pageframe demo`): a producer (this thread) fills frames of
// shared memory and sends them through a FrameChannel to consumer workers, which verify the bytes
// in place and drop the frames. No byte is copied between threads and no postMessage carries
// data: only frame addresses move, through a queue in the same shared memory. It shows progress
// while it runs, prints throughput and the memory statistics at the end, checks the region
// invariant, and writes a frame map captured while frames are in flight (at the moment the most
// frames were queued in the channel). Then, for a baseline, the same run (the same blocks, the
// same checks, as many blocks in flight at most) through postMessage, copying the blocks and
// then transferring them, and the ratios.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FrameChannel, FrameSystem } from '../../dist/index.js';
import { captureFrameMap, renderFrameMap } from '../../dist/map/index.js';
import { Block, STOP, makeBlocks } from './demo-shared.js';
import { Progress } from './progress.js';

/**
 * @typedef {object} DemoOptions
 * @property {number} frames frames to send
 * @property {number} workers consumer workers
 * @property {number} region the most frames the region may grow to (it starts at 16 and grows as needed)
 * @property {string | null} map where to write the frame map (.svg or .html), or null for none
 * @property {boolean} compare whether to run the postMessage baseline too
 * @property {{ write(s: string): unknown, isTTY?: boolean }} out where to print
 */

/**
 * Runs the demo; resolves to true if every frame was verified and came back.
 * @param {DemoOptions} o
 */
export async function runDemo(o) {
  const print = (/** @type {string} */ s) => o.out.write(`${s}\n`);
  // Nothing sized by hand: the region starts small and grows (from any worker) as frames are needed.
  const sys = FrameSystem.create({ frames: 16, maxFrames: o.region, autoGrow: true });
  const channel = FrameChannel.create(sys, Math.min(256, o.region >> 2));
  print(`pageframe demo: ${o.frames} frames of 4 KiB through a FrameChannel to ${o.workers} consumer worker${o.workers === 1 ? '' : 's'}`);
  print(`region: ${sys.nframes} frames now, growing as needed up to ${sys.maxFrames} (${(sys.maxFrames / 256).toFixed(0)} MiB); channel: ${channel.capacity} entries; this is worker ${sys.workerId}`);

  /** @type {Progress | undefined} */
  let progress;
  const workers = [];
  /** @type {Promise<unknown>[]} */
  const exits = [];
  for (let i = 0; i < o.workers; i++) {
    const w = new Worker(new URL('./demo-worker.js', import.meta.url), { workerData: { handle: sys.handle, channel: channel.handle } });
    // Listened for from the start: one consumer may exit while the other's result is awaited.
    exits.push(new Promise((resolve) => w.once('exit', resolve)));
    const [hello] = await once(w, 'message'); // attached
    const id = /** @type {{ workerId: number }} */ (hello).workerId;
    // Should a consumer die, its share of the region (cached frames, a half-done step) comes back.
    w.on('exit', (code) => {
      if (code === 0) return;
      const message = `consumer ${id} exited with ${code}; reclaimed: ${JSON.stringify(sys.reclaimWorker(id))}`;
      if (progress !== undefined) progress.log(message);
      else print(message);
    });
    workers.push(w);
  }
  const results = workers.map((w) => once(w, 'message'));

  const half = Math.max(1, Math.floor(o.frames / 2));
  // The frame map shows the busiest moment: the most frames queued in the channel (captured
  // again each time the queue grows well past the last capture: at most a few dozen times), or
  // mid-run if the queue never grows.
  /** @type {{ map: import('../../dist/map/index.js').FrameMap, sent: number, queued: number, busiest: boolean } | undefined} */
  let snapshot;
  progress = new Progress(o.out);
  const blocks = makeBlocks();
  const started = performance.now();
  for (let seq = 0; seq < o.frames; seq++) {
    const frame = sys.allocFrame(Block, { seq });
    // Written with one `set` from private memory (a byte loop writing shared memory is several
    // times slower in V8: see bench/README.md); the baseline copies its blocks alike.
    const { bytes, sum } = blocks.block(seq);
    frame.bytes().set(bytes);
    frame.meta.checksum.store(sum); // an atomic field: writable through a shared handle
    channel.send(frame); // blocks while the channel is full; the frame's reference moves into it
    if (o.map !== null) {
      const queued = channel.size;
      const best = snapshot?.busiest === true ? snapshot.queued : 0;
      // The queue's size is read again after the capture for the picture's title: this thread is
      // the only sender, so the frames still queued then were queued all through the capture, and
      // in use in the picture (consumers may take others meanwhile: the size before can be more).
      if (queued >= Math.max(best + 8, Math.ceil(best * 1.25))) {
        const map = captureFrameMap(sys);
        snapshot = { map, sent: seq + 1, queued: channel.size, busiest: true };
      } else if (seq + 1 === half && snapshot === undefined) {
        const map = captureFrameMap(sys);
        snapshot = { map, sent: seq + 1, queued: channel.size, busiest: false };
      }
    }
    progress.update(() => {
      const sent = seq + 1;
      const rate = sent / ((performance.now() - started) / 1000);
      return `  sent ${sent}/${o.frames} (${((sent * 100) / o.frames).toFixed(0)}%), ${channel.size} queued, ${sys.freeFrames()} frames free, ${rate.toFixed(0)} frames/s`;
    });
  }
  for (let i = 0; i < o.workers; i++) channel.send(sys.allocFrame(Block, { seq: STOP }));
  const counts = /** @type {{ done: number, bad: number }[]} */ ((await Promise.all(results)).map(([r]) => r));
  const seconds = (performance.now() - started) / 1000;
  progress.finish(`  sent ${o.frames}/${o.frames} in ${seconds.toFixed(2)} s`);

  const done = counts.reduce((n, c) => n + c.done, 0);
  const bad = counts.reduce((n, c) => n + c.bad, 0);
  for (const [i, c] of counts.entries()) print(`  consumer ${i + 1}: ${c.done} frames verified`);
  print(
    `throughput: ${(done / seconds).toFixed(0)} frames/s, ${((done * 4096) / 2 ** 20 / seconds).toFixed(1)} MiB/s` +
      ` (${seconds.toFixed(2)} s), checksum errors: ${bad}`,
  );
  await Promise.all(exits);
  channel.close();
  const stats = sys.stats();
  print(`memory at the end: ${JSON.stringify(stats)} (the region grew to ${stats.total} frames: ${JSON.stringify(sys.memory())} bytes)`);
  sys.checkInvariants();
  print(`region invariant holds; every frame is back in the allocator: ${stats.free === stats.total}`);

  if (o.map !== null && snapshot !== undefined) {
    const format = o.map.toLowerCase().endsWith('.svg') ? 'svg' : 'html';
    const moment = snapshot.busiest ? 'at its busiest moment' : 'mid-run';
    const m = snapshot.map;
    // The title counts what the picture shows: frames in use (held, busy or raw), of them queued.
    const title = `pageframe demo ${moment}: ${m.nframes - m.counts.free} frames in use, ${snapshot.queued} of them queued, after ${snapshot.sent} of ${o.frames} were sent`;
    writeFileSync(o.map, renderFrameMap(snapshot.map, { format, title }));
    print(
      `frame map: ${o.map}, captured ${snapshot.busiest ? 'at the busiest moment (the most frames queued)' : 'mid-run'}, ` +
        `after ${snapshot.sent} of ${o.frames} frames were sent: ${m.nframes - m.counts.free} frames in use, ${snapshot.queued} queued, ` +
        `${m.counts.cached} cached free${m.counts.raw > 0 ? `, ${m.counts.raw} raw (in a consumer between its last drop and the allocator at that instant)` : ''}; ` +
        `fragmentation ${m.fragmentation.ratio.toFixed(2)}`,
    );
  }
  let baselineOk = true;
  if (o.compare) {
    // The baseline: the same blocks and checks through postMessage, the same bound on what is in
    // flight, fresh workers. What differs is only how a block reaches a consumer.
    const rate = (/** @type {{ done: number, seconds: number }} */ r) => (r.done * 4096) / 2 ** 20 / r.seconds;
    const channelRate = (done * 4096) / 2 ** 20 / seconds;
    const copy = await viaPostMessage(o, blocks, channel.capacity, false);
    const transfer = await viaPostMessage(o, blocks, channel.capacity, true);
    baselineOk = copy.bad === 0 && transfer.bad === 0 && copy.done === o.frames && transfer.done === o.frames;
    print(
      `the same run through postMessage: copied ${rate(copy).toFixed(1)} MiB/s, transferred ${rate(transfer).toFixed(1)} MiB/s; ` +
        `FrameChannel ${channelRate.toFixed(1)} MiB/s = ${(channelRate / rate(copy)).toFixed(2)}× copy, ${(channelRate / rate(transfer)).toFixed(2)}× transfer`,
    );
    print(
      `what this means: the three runs move the same ${o.frames} blocks of 4 KiB from this thread to ${o.workers} worker${o.workers === 1 ? '' : 's'}, which check every byte; ` +
        'a block is made with one copy, so the runs differ in the hand-off and in how the threads wait for each other. ' +
        'The FrameChannel saves each message its copy or its new buffer (npm run bench measures the hand-off alone: bench/README.md), ' +
        `but its threads wait for each other in shared memory (polling, then sleeping); with ${availableParallelism()} cores, or on a busy machine, that can cost more than it saves, and the figures vary from run to run.`,
    );
  }
  return bad === 0 && done === o.frames && stats.free === stats.total && baselineOk;
}

/**
 * The baseline run: the same `o.frames` blocks as the channel run, posted round-robin to
 * `o.workers` fresh consumers as ArrayBuffers (copied, or transferred: a new buffer each), at
 * most `window` in flight (the consumers send credits back). Resolves to what they verified.
 * @param {DemoOptions} o
 * @param {ReturnType<typeof makeBlocks>} blocks
 * @param {number} window
 * @param {boolean} transfer
 * @returns {Promise<{ done: number, bad: number, seconds: number }>}
 */
async function viaPostMessage(o, blocks, window, transfer) {
  const creditBatch = Math.max(1, Math.min(16, Math.floor(window / (2 * o.workers))));
  const workers = Array.from({ length: o.workers }, () => new Worker(new URL('./demo-pm-worker.js', import.meta.url), { workerData: { creditBatch } }));
  let inFlight = 0;
  /** @type {(() => void) | undefined} */
  let wake;
  const results = workers.map(
    (w) =>
      new Promise((resolve) => {
        w.on('message', (/** @type {{ credits?: number, done?: number, bad?: number }} */ m) => {
          if (m.credits !== undefined) {
            inFlight -= m.credits;
            wake?.();
          } else resolve(m);
        });
      }),
  );
  await Promise.all(workers.map((w) => once(w, 'online')));
  const reused = new Uint8Array(4096); // copying needs no fresh buffer: postMessage copies it
  const started = performance.now();
  for (let seq = 0; seq < o.frames; seq++) {
    while (inFlight >= window) await new Promise((resolve) => (wake = () => resolve(undefined)));
    const block = blocks.block(seq);
    const bytes = transfer ? new Uint8Array(4096) : reused;
    bytes.set(block.bytes);
    workers[seq % o.workers].postMessage({ seq, sum: block.sum, buffer: bytes.buffer }, transfer ? [bytes.buffer] : []);
    inFlight++;
  }
  for (const w of workers) w.postMessage({ seq: STOP, sum: 0, buffer: new ArrayBuffer(0) });
  const counts = /** @type {{ done: number, bad: number }[]} */ (await Promise.all(results));
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return { done: counts.reduce((n, c) => n + c.done, 0), bad: counts.reduce((n, c) => n + c.bad, 0), seconds };
}
