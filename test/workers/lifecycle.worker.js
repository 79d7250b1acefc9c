// A worker thread that attaches to a region (twice, to leave two worker records), leaves free
// frames in its caches, posts { threadId, workerIds } and then waits until it is terminated, or
// exits at once if workerData.exit is set.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { FrameSystem } from '../../dist/index.js';

if (parentPort === null) throw new Error('lifecycle.worker.js runs as a worker thread');
/** @type {{ handle: import('../../dist/index.js').FrameSystemHandle, exit?: boolean }} */
const data = workerData;
const sys = FrameSystem.attach(data.handle);
sys.allocFrame().drop(); // a refill: free frames in this worker's cache
const held = sys.allocFrame(); // and one frame held through a handle: it dies with the thread
parentPort.postMessage({ threadId, workerIds: [sys.workerId], held: held.paddr });
if (data.exit) process.exit(0);
