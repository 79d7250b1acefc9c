/**
 * pageframe in real headless Chromium (Debian's `/usr/bin/chromium`, driven by playwright-core):
 * a cross-origin-isolated page creates a region, a module Web Worker attaches to it, and frames
 * go both ways by address and through FrameChannels; the page reports what each side saw
 * (page.js, worker.js) and this test checks the values. A page served without the isolation
 * headers has no SharedArrayBuffer, and `FrameSystem.create` says so with its typed error.
 *
 * The page imports the built package (dist/), which `npm test` builds first. Chromium must be
 * installed (`.ci/run` installs it): a missing browser fails the test, it is never skipped.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageResult } from './page.js';
import { expectIsolatedRun, expectNotIsolatedRun } from './expect.js';
import { startServer, stopServer, type RunningServer } from './server.js';

const CHROMIUM = '/usr/bin/chromium';
/** Without the background-networking flags Chromium keeps trying to reach Google, and the
 *  network here is closed. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Chromium starts in 1–3 s; a page run takes well under a second. Generous on a busy machine. */
const LAUNCH_TIMEOUT = 60_000;
const PAGE_TIMEOUT = 45_000;

let context: BrowserContext | undefined;
let profile: string | undefined;
let isolated: RunningServer | undefined;
let plain: RunningServer | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing: ${CHROMIUM} does not exist. The browser test needs Debian's chromium ` +
        '(`apt-get install chromium`; .ci/run installs it when missing).',
    );
  }
  isolated = await startServer({ isolated: true });
  plain = await startServer({ isolated: false });
  profile = await mkdtemp(join(tmpdir(), 'pageframe-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: LAUNCH_TIMEOUT,
  });
}, LAUNCH_TIMEOUT + 10_000);

afterAll(async () => {
  await context?.close();
  await Promise.all([stopServer(isolated), stopServer(plain)]);
  if (profile !== undefined) await rm(profile, { recursive: true, force: true });
}, 30_000);

/** Where a console message came from, for failure messages. */
function where(m: ConsoleMessage): string {
  const { url, lineNumber } = m.location();
  return url === '' ? '' : ` (${url}:${lineNumber + 1})`;
}

/**
 * Loads page.html from `server` and waits for `window.__result`. Returns the result and every
 * problem the browser reported on the way: console errors of the page and of its worker, page
 * errors, failed or non-2xx requests. Any failure to get a result carries them in its message.
 */
async function run(server: RunningServer | undefined, query = ''): Promise<{ result: PageResult; problems: string[] }> {
  if (context === undefined || server === undefined) throw new Error('the browser or the server did not start (see beforeAll)');
  const page = await context.newPage();
  const problems: string[] = [];
  const firstRequest = server.requests.length;
  // The page's 'console' event carries its workers' console messages too.
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${m.worker() === null ? 'page' : 'worker'} console.error${where(m)}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.stack ?? e.message}`));
  page.on('crash', () => problems.push('the page crashed'));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}: ${r.failure()?.errorText ?? '?'}`));
  const badRequests = (): string[] =>
    server.requests
      .slice(firstRequest)
      .filter((r) => r.status >= 300)
      .map((r) => `server answered ${r.status} to ${r.method} ${r.path}`);
  try {
    const response = await page.goto(`${server.origin}/test/browser/page.html${query}`, { timeout: PAGE_TIMEOUT });
    if (response === null || response.status() !== 200) throw new Error(`page.html: HTTP ${response?.status() ?? 'no response'}`);
    await page.waitForFunction(() => '__result' in window, undefined, { timeout: PAGE_TIMEOUT });
    const result = await page.evaluate(() => (window as unknown as { __result: PageResult }).__result);
    problems.push(...badRequests());
    return { result, problems };
  } catch (e) {
    const step = await page.evaluate(() => document.getElementById('out')?.textContent ?? '').catch(() => '');
    throw new Error(
      `${e instanceof Error ? e.message : String(e)}\n` +
        `browser problems:\n  ${[...problems, ...badRequests()].join('\n  ') || '(none)'}` +
        (step === '' ? '' : `\npage output:\n${step}`),
    );
  } finally {
    await page.close();
  }
}

describe('in headless Chromium', () => {
  it('the server sends the isolation headers and JavaScript MIME types (and leaves them out when asked)', async () => {
    if (isolated === undefined || plain === undefined) throw new Error('the servers did not start');
    const js = await fetch(`${isolated.origin}/dist/index.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(js.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await js.text()).toContain('FrameSystem');
    const html = await fetch(`${plain.origin}/test/browser/page.html`);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('cross-origin-opener-policy')).toBeNull();
    expect(html.headers.get('cross-origin-embedder-policy')).toBeNull();
    await html.text();
    // Nothing outside the two mounts, even with an encoded '../' (which URL parsing leaves alone).
    for (const path of ['/package.json', '/src/system.ts', '/test/browser/..%2f..%2fpackage.json', '/dist/..%2ftest/browser/server.js']) {
      const r = await fetch(`${isolated.origin}${path}`);
      await r.text();
      expect(r.status, path).toBe(404);
    }
  });

  for (const checked of [false, true]) {
    it(`a page and a module worker share a region${checked ? ' (checked mode)' : ''}`, async () => {
      const { result, problems } = await run(isolated, checked ? '?checked=1' : '');
      expectIsolatedRun(result, problems, checked);
    });
  }

  it('without COOP/COEP there is no SharedArrayBuffer and FrameSystem.create throws FrameSystemError(BadMemory)', async () => {
    const { result, problems } = await run(plain);
    expectNotIsolatedRun(result, problems);
  });
});
