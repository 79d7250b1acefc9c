// The worker side of test/grow.test.ts: attaches to the region and grows it, or allocates frames
// past the end it knew, as the test asks (workerData.task).
import { parentPort, workerData } from 'node:worker_threads';
import { FrameAllocOptions, FrameSystem } from '../../dist/index.js';

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const sys = FrameSystem.attach(workerData.handle);
const { task } = workerData;
try {
  if (task === 'grow') {
    sys.grow(workerData.n);
    port.postMessage({ nframes: sys.nframes });
    sys.close();
  } else if (task === 'grow-many') {
    let grown = 0;
    for (let i = 0; i < workerData.times; i++) {
      sys.grow(workerData.n);
      grown++;
    }
    port.postMessage({ grown });
    sys.close();
  } else if (task === 'wait-then-fill') {
    // Knows the region's first size only; the main thread grows it, then says go.
    port.postMessage({ nframes: sys.nframes });
    port.once('message', () => {
      try {
        const alloc = new FrameAllocOptions(sys).zeroed(false);
        const paddrs = [];
        for (let i = 0; i < 150; i++) {
          const f = alloc.allocFrame();
          const b = f.bytes();
          b[0] = (f.paddr / 4096) & 0xff;
          b[4095] = 0x5a;
          paddrs.push(f.intoRaw());
        }
        port.postMessage({ paddrs });
        sys.close();
      } catch (e) {
        port.postMessage({ error: String(/** @type {Error} */ (e).stack ?? e) });
      }
    });
  } else if (task === 'churn') {
    // Allocation churn with autoGrow until told to stop (or killed).
    let x = workerData.seed * 7919 + 1;
    /** @type {{ drop(): void }[]} */
    const held = [];
    let stop = false;
    port.once('message', () => (stop = true));
    port.postMessage({ started: true });
    const step = () => {
      for (let i = 0; i < 200 && !stop; i++) {
        x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
        if (held.length > 40 || (x & 3) === 0) held.splice(x % Math.max(held.length, 1), 1)[0]?.drop();
        else {
          const n = 1 + (x % 6);
          try {
            held.push(n === 1 ? sys.allocFrame() : sys.allocSegment(n));
          } catch (e) {
            if (/** @type {{ code?: string }} */ (e).code !== 'NoMemory') throw e;
          }
        }
      }
      if (stop) {
        for (const h of held) h.drop();
        sys.close();
      } else setTimeout(step, 0);
    };
    step();
  }
} catch (e) {
  port.postMessage({ error: String(/** @type {Error} */ (e).stack ?? e) });
}
