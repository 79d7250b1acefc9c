// A subscriber of a FrameTopic (test/workers/topic.test.ts). Roles:
//  - 'read':    subscribes, says 'ready', reads every frame with `for await` until the topic
//               ends, checking every byte (each frame is filled with one value), and posts
//               { frames, missed, sum, whole }; then closes everything.
//  - 'abandon': subscribes, says 'ready' with its workerId, and exits without reading or closing
//               its subscription (as a crashed worker would): the test reclaims it.
import { parentPort, workerData } from 'node:worker_threads';
import { FrameSystem, FrameTopic } from '../../dist/index.js';

const sys = FrameSystem.attach(workerData.handle);
const topic = FrameTopic.open(sys, workerData.topic);
const sub = topic.subscribe();
topic.close(); // a subscriber needs no FrameTopic object once subscribed
parentPort?.postMessage({ ready: true, workerId: sys.workerId });
if (workerData.role === 'read') {
  let frames = 0;
  let sum = 0;
  let whole = true;
  for await (const frame of sub) {
    const bytes = frame.bytes();
    const v = bytes[0];
    for (let i = 0; i < bytes.length; i++) {
      sum += bytes[i];
      if (bytes[i] !== v) whole = false;
    }
    frames++;
    frame.drop();
  }
  const missed = sub.missed;
  sub.close();
  sys.close();
  parentPort?.postMessage({ frames, missed, sum, whole });
}
