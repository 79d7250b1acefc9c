// pageframe demo: a producer (this thread) fills frames of shared memory and hands them to
// consumer workers by address; the consumers verify the bytes in place and drop the frames.
// No byte is copied between threads: only addresses travel.
//
//   npm start                      (builds, then runs this file)
//   node examples/demo.js 20000 3  (frames to send, consumer workers)
import { Worker } from 'node:worker_threads';
import { FrameSystem } from 'pageframe';
import { Block, fillBlock } from './demo-shared.js';

const total = Number(process.argv[2] ?? 20000);
const nworkers = Number(process.argv[3] ?? 2);
const inFlight = 64; // frames each consumer may hold at once

const sys = FrameSystem.create({ frames: 1024 });
console.log(`pageframe demo: ${total} frames of 4 KiB through ${nworkers} consumer workers`);
console.log(`region: ${sys.nframes} frames (${(sys.maxPaddr / 2 ** 20).toFixed(0)} MiB), worker ${sys.workerId}`);

/** @type {{ w: Worker, pending: number, done: number, bad: number }[]} */
const workers = [];
for (let i = 0; i < nworkers; i++) {
  const w = new Worker(new URL('./demo-worker.js', import.meta.url), { workerData: { handle: sys.handle } });
  await new Promise((resolve) => w.once('message', resolve)); // attached
  workers.push({ w, pending: 0, done: 0, bad: 0 });
}

const started = performance.now();
let sent = 0;
let finished = 0;
let lastReport = started;

await new Promise((/** @type {(v?: unknown) => void} */ resolve, reject) => {
  for (const c of workers) {
    c.w.on('error', reject);
    c.w.on('message', (/** @type {{ done: number, bad: number }} */ msg) => {
      c.pending -= msg.done;
      c.done += msg.done;
      c.bad += msg.bad;
      finished += msg.done;
      const now = performance.now();
      if (now - lastReport > 250) {
        lastReport = now;
        process.stdout.write(`\r  ${finished}/${total} frames verified`);
      }
      if (finished === total) resolve();
      else pump();
    });
  }
  pump();
});

function pump() {
  for (const c of workers) {
    const batch = [];
    while (c.pending < inFlight && sent < total) {
      const f = sys.allocFrame(Block, { seq: sent });
      const checksum = fillBlock(f.bytes(), sent);
      f.meta.checksum.store(checksum); // an atomic field: writable through a shared handle
      batch.push(f.intoRaw()); // the reference now travels as a number
      c.pending++;
      sent++;
    }
    if (batch.length > 0) c.w.postMessage(batch);
  }
}

const seconds = (performance.now() - started) / 1000;
process.stdout.write(`\r  ${finished}/${total} frames verified\n`);
const bad = workers.reduce((n, c) => n + c.bad, 0);
for (const [i, c] of workers.entries()) console.log(`  consumer ${i + 1}: ${c.done} frames`);
console.log(
  `throughput: ${(total / seconds).toFixed(0)} frames/s, ${((total * 4096) / 2 ** 20 / seconds).toFixed(1)} MiB/s` +
    ` (${seconds.toFixed(2)} s), checksum errors: ${bad}`,
);
await Promise.all(workers.map((c) => c.w.terminate()));
const stats = sys.stats();
console.log('memory at the end:', JSON.stringify(stats));
sys.checkInvariants();
console.log('region invariant holds; every frame is back in the allocator:', stats.free === stats.total);
if (bad > 0 || stats.free !== stats.total) process.exit(1);
