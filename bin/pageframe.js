#!/usr/bin/env node
// pageframe: the command line (`pageframe demo | bench | map`, `--help`, `--version`).
// `npm start` runs `pageframe demo`. The commands live in lib/cli.js.
import { main } from './lib/cli.js';

process.exitCode = await main(process.argv.slice(2));
