// A pool task for the recycling tests (piscina, tinypool): the region is attached once per pool
// thread (module scope); each task allocates and drops a few frames (leaving some in the
// thread's cache) and answers the thread's worker id.
import { workerData } from 'node:worker_threads';
import { FrameSystem } from '../../dist/index.js';

// tinypool passes [its own data, the pool's workerData]; piscina the pool's workerData itself.
const data = Array.isArray(workerData) ? workerData[1] : workerData;
const sys = FrameSystem.attach(data.handle);

/** @returns {number} */
export default function task() {
  const frames = [sys.allocFrame(), sys.allocFrame(), sys.allocSegment(3)];
  for (const f of frames) f.drop();
  return sys.workerId;
}
