// A worker that attaches to a region and allocates and drops frames in a tight loop until it is
// terminated. Every iteration gives back what it took, so a worker terminated at any moment
// holds at most one iteration's frames (8 at most). `counter[slot]` counts the iterations.
import { parentPort as port, workerData } from 'node:worker_threads';
import { FrameAllocOptions, FrameSystem, Untyped } from '../../dist/index.js';
import { xorshift } from './xorshift.js';

if (port === null) throw new Error('churn.worker.js runs as a worker thread');
/** @type {{ handle: import('../../dist/index.js').FrameSystemHandle, counter: SharedArrayBuffer, slot: number, seed: number }} */
const data = workerData;
const sys = FrameSystem.attach(data.handle);
const counter = new Int32Array(data.counter);
const options = new FrameAllocOptions(sys);
port.postMessage({ workerId: sys.workerId });

const next = xorshift(data.seed);

for (;;) {
  const r = next();
  switch (r % 6) {
    case 0: {
      const f = sys.allocFrame();
      f.bytes()[r & 4095] = r & 0xff;
      f.drop();
      break;
    }
    case 1: {
      const s = sys.allocSegment(1 + ((r >>> 8) % 4)); // through the caches
      s.drop();
      break;
    }
    case 2: {
      const s = sys.allocSegment(5 + ((r >>> 8) % 4)); // the buddy level
      s.drop();
      break;
    }
    case 3: {
      const f = sys.allocFrame();
      const g = f.clone();
      f.drop();
      g.drop();
      break;
    }
    case 4: {
      const u = options.allocUnique(Untyped);
      u.drop();
      break;
    }
    default: {
      const n = 1 + ((r >>> 8) % 4);
      const p = sys.allocator.alloc(n, 1);
      if (p !== null) sys.allocator.dealloc(p, n);
      break;
    }
  }
  Atomics.add(counter, data.slot, 1);
}
