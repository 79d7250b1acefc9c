// The demo moved to bin/lib/demo.js: `npm start` and `pageframe demo` run it (with a progress
// line and a frame map). This file keeps the old command working:
//   node examples/demo.js [frames] [workers]    (no frame map)
import { runDemo } from '../bin/lib/demo.js';

const ok = await runDemo({
  frames: Number(process.argv[2] ?? 20000),
  workers: Number(process.argv[3] ?? 2),
  region: 1024,
  map: null,
  out: process.stdout,
});
if (!ok) process.exitCode = 1;
