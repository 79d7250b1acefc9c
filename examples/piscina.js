// pageframe with a piscina worker pool: the pool's workers attach to the region once, and each
// task carries only frame addresses; the data stays in shared memory and is processed in place.
// sys.watch(pool) gives back what each pool thread attached when the pool ends that thread (an
// idle timeout, a crash, pool.destroy()): no bookkeeping, however many threads the pool recycles.
//
//   node examples/piscina.js        (after npm run build)
import { Piscina } from 'piscina';
import { FrameSystem, defineMeta } from 'pageframe';

/** An untyped frame of samples, with how many it holds. */
const Samples = defineMeta('example.samples', { count: 'u32' }, { untyped: true });

// Nothing to size: the region starts at 16 frames and grows as the tasks need (up to 1 GiB).
const sys = FrameSystem.create({ frames: 16, maxFrames: 1 << 18, autoGrow: true });
const pool = new Piscina({
  filename: new URL('./piscina-task.js', import.meta.url).href,
  workerData: { handle: sys.handle }, // each pool worker attaches once, at start-up
  maxThreads: 2,
  idleTimeout: 50, // idle threads end, and new ones start when work comes: each attaches anew
});
let reclaimed = 0;
sys.watch(pool, (_thread, reports) => (reclaimed += reports.length)); // the one line the pool needs
let threads = 0;
pool.on('workerCreate', () => threads++); // (only to report it below)

// 64 frames of float32 samples; each task squares the samples of one frame in place and returns
// their sum. The frame's reference travels with the task (intoRaw here, fromRaw there).
const tasks = [];
for (let k = 0; k < 64; k++) {
  const frame = sys.allocFrame(Samples, { count: 1024 });
  const samples = new Float32Array(frame.bytes().buffer, frame.bytes().byteOffset, 1024);
  for (let i = 0; i < 1024; i++) samples[i] = (i % 7) - 3;
  tasks.push(pool.run({ paddr: frame.intoRaw() }));
}
const results = /** @type {{ sum: number }[]} */ (await Promise.all(tasks));
const sums = results.map((r) => r.sum);
const expected = [...Array(1024).keys()].reduce((s, i) => s + ((i % 7) - 3) ** 2, 0);
console.log(`${sums.length} frames squared in place by the pool; every sum is ${expected}:`, sums.every((s) => s === expected));
await pool.destroy(); // its threads exit; watch reclaims what each attached (ids, cached frames)
while (sys.workers().length > 1) await new Promise((resolve) => setTimeout(resolve, 5));
console.log(`reclaimed ${reclaimed} pool worker(s) of ${threads} thread(s), by watch`);
const stats = sys.stats();
console.log('frames free again:', stats.free === stats.total, JSON.stringify(stats));
sys.checkInvariants();
if (!sums.every((s) => s === expected) || stats.free !== stats.total || sys.workers().length !== 1) process.exit(1);
