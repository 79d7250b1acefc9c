// A consumer that fails on every item: it receives one frame from the channel and throws (an
// uncaught error: the Worker's 'error' event, then its exit), holding the frame.
import { parentPort, workerData } from 'node:worker_threads';
import { FrameChannel, FrameSystem } from '../../dist/index.js';

const sys = FrameSystem.attach(workerData.handle);
const ch = FrameChannel.open(sys, workerData.channel);
parentPort?.postMessage('ready');
const item = ch.receive();
throw new Error(`consumer ${sys.workerId} failed on the frame at ${item?.paddr}`);
