// A workerpool worker script for the lifecycle test: the region is attached once per pool thread;
// the task allocates and drops a few frames (leaving some in the thread's cache) and answers the
// thread's worker id.
import { workerData } from 'node:worker_threads';
import workerpool from 'workerpool';
import { FrameSystem } from '../../dist/index.js';

const sys = FrameSystem.attach(workerData.handle);
workerpool.worker({
  task() {
    for (const f of [sys.allocFrame(), sys.allocSegment(2)]) f.drop();
    return sys.workerId;
  },
});
