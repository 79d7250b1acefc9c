// A tiny static server for the browser test: serves the repository's built package (/dist/...)
// and this directory's page files (/test/browser/...), nothing else, on 127.0.0.1 at an
// ephemeral port. By default every response carries the cross-origin isolation headers
// (COOP same-origin, COEP require-corp), without which a browser gives a page no
// SharedArrayBuffer; `isolated: false` leaves them out (the test's negative case).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/browser/server.js). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** URL prefixes served, and the directories they map to. */
const MOUNTS = [
  { prefix: '/dist/', dir: resolve(ROOT, 'dist') },
  { prefix: '/test/browser/', dir: resolve(ROOT, 'test/browser') },
];

/** @type {Record<string, string>} */
const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * @typedef {object} ServerOptions
 * @property {boolean} [isolated] send COOP/COEP (default true)
 */

/**
 * @typedef {object} RequestRecord
 * @property {string} method
 * @property {string} path
 * @property {number} status
 */

/**
 * @typedef {object} RunningServer
 * @property {string} origin e.g. `http://127.0.0.1:41234`
 * @property {boolean} isolated whether responses carry COOP/COEP
 * @property {RequestRecord[]} requests every request served, in order (for failure messages)
 * @property {import('node:http').Server} server
 */

/**
 * The file a URL path names, or undefined when it is outside the mounts (or climbs out of one).
 * @param {string} pathname a decoded URL path
 * @returns {string | undefined}
 */
function fileFor(pathname) {
  for (const { prefix, dir } of MOUNTS) {
    if (!pathname.startsWith(prefix)) continue;
    const file = resolve(dir, '.' + pathname.slice(prefix.length - 1));
    return file.startsWith(dir + sep) ? file : undefined;
  }
  return undefined;
}

/**
 * Starts a server; resolves once it listens.
 * @param {ServerOptions} [options]
 * @returns {Promise<RunningServer>}
 */
export async function startServer(options = {}) {
  const isolated = options.isolated ?? true;
  /** @type {RequestRecord[]} */
  const requests = [];
  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    /** @param {number} status @param {Record<string, string>} headers @param {Uint8Array | string} [body] */
    const reply = (status, headers, body) => {
      requests.push({ method, path: url.pathname, status });
      /** @type {Record<string, string>} */
      const common = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
      if (isolated) {
        common['Cross-Origin-Opener-Policy'] = 'same-origin';
        common['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      res.writeHead(status, { ...common, ...headers });
      res.end(method === 'HEAD' ? undefined : body);
    };
    if (method !== 'GET' && method !== 'HEAD') {
      reply(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' }, 'method not allowed\n');
      return;
    }
    let pathname;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      reply(400, { 'Content-Type': 'text/plain; charset=utf-8' }, 'bad path\n');
      return;
    }
    const file = fileFor(pathname);
    const type = MIME[extname(pathname)];
    if (file === undefined || type === undefined) {
      reply(404, { 'Content-Type': 'text/plain; charset=utf-8' }, 'not found\n');
      return;
    }
    stat(file)
      .then((s) => {
        if (!s.isFile()) throw new Error('not a file');
        return readFile(file);
      })
      .then(
        (body) => reply(200, { 'Content-Type': type, 'Content-Length': String(body.length) }, body),
        () => reply(404, { 'Content-Type': 'text/plain; charset=utf-8' }, 'not found\n'),
      );
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', fail);
      ok(undefined);
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  return { origin: `http://127.0.0.1:${address.port}`, isolated, requests, server };
}

/**
 * Stops a server started by `startServer` (closing idle keep-alive connections).
 * @param {RunningServer | undefined} running
 * @returns {Promise<void>}
 */
export async function stopServer(running) {
  if (running === undefined) return;
  const { server } = running;
  await new Promise((ok) => {
    server.close(() => ok(undefined));
    server.closeAllConnections();
  });
}
