// pageframe demo: a producer (this thread) fills frames of shared memory and sends them through
// a FrameChannel to consumer workers, which verify the bytes in place and drop the frames. No
// byte is copied between threads and no postMessage carries data: only frame addresses move,
// through a queue in the same shared memory.
//
//   npm start                      (builds, then runs this file)
//   node examples/demo.js 20000 3  (frames to send, consumer workers)
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { FrameChannel, FrameSystem } from 'pageframe';
import { Block, STOP, fillBlock } from './demo-shared.js';

const total = Number(process.argv[2] ?? 20000);
const nworkers = Number(process.argv[3] ?? 2);

const sys = FrameSystem.create({ frames: 1024 });
const channel = FrameChannel.create(sys, 256);
console.log(`pageframe demo: ${total} frames of 4 KiB through a FrameChannel to ${nworkers} consumer workers`);
console.log(`region: ${sys.nframes} frames (${(sys.maxPaddr / 2 ** 20).toFixed(0)} MiB); this is worker ${sys.workerId}`);

const workers = [];
for (let i = 0; i < nworkers; i++) {
  const w = new Worker(new URL('./demo-worker.js', import.meta.url), { workerData: { handle: sys.handle, channel: channel.handle } });
  const [hello] = await once(w, 'message'); // attached
  const id = /** @type {{ workerId: number }} */ (hello).workerId;
  // Should a consumer die, its share of the region (cached frames, a half-done step) comes back.
  w.on('exit', (code) => {
    if (code !== 0) console.log(`consumer ${id} exited with ${code}; reclaimed:`, sys.reclaimWorker(id));
  });
  workers.push(w);
}
const results = workers.map((w) => once(w, 'message'));

const started = performance.now();
let lastReport = started;
for (let seq = 0; seq < total; seq++) {
  const frame = sys.allocFrame(Block, { seq });
  frame.meta.checksum.store(fillBlock(frame.bytes(), seq)); // an atomic field: writable through a shared handle
  channel.send(frame); // blocks while the channel is full; the frame's reference moves into it
  const now = performance.now();
  if (now - lastReport > 200) {
    lastReport = now;
    process.stdout.write(`\r  sent ${seq + 1}/${total} (${channel.size} queued, ${sys.stats().free} frames free)`);
  }
}
for (let i = 0; i < nworkers; i++) channel.send(sys.allocFrame(Block, { seq: STOP }));
const counts = /** @type {{ done: number, bad: number }[]} */ ((await Promise.all(results)).map(([r]) => r));
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`\r  sent ${total}/${total}${' '.repeat(40)}\n`);

const done = counts.reduce((n, c) => n + c.done, 0);
const bad = counts.reduce((n, c) => n + c.bad, 0);
for (const [i, c] of counts.entries()) console.log(`  consumer ${i + 1}: ${c.done} frames verified`);
console.log(
  `throughput: ${(done / seconds).toFixed(0)} frames/s, ${((done * 4096) / 2 ** 20 / seconds).toFixed(1)} MiB/s` +
    ` (${seconds.toFixed(2)} s), checksum errors: ${bad}`,
);
await Promise.all(workers.map((w) => once(w, 'exit')));
channel.close();
const stats = sys.stats();
console.log('memory at the end:', JSON.stringify(stats));
sys.checkInvariants();
console.log('region invariant holds; every frame is back in the allocator:', stats.free === stats.total);
if (bad > 0 || done !== total || stats.free !== stats.total) process.exit(1);
