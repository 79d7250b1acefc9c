/**
 * The browser test in Firefox ESR (Debian's `/usr/bin/firefox-esr`, driven by puppeteer-core over
 * WebDriver BiDi): the same page, worker and checks as browser.test.ts runs in Chromium
 * (expect.ts). Puppeteer starts Firefox with a new temporary profile whose preferences turn off
 * updates, telemetry and the other background connections; the page loads from a loopback
 * server. Firefox must be installed (`.ci/run` installs firefox-esr): a missing browser fails the
 * test, it is never skipped, and never downloaded.
 */
import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageResult } from './page.js';
import { expectIsolatedRun, expectNotIsolatedRun } from './expect.js';
import { startServer, stopServer, type RunningServer } from './server.js';

const FIREFOX = '/usr/bin/firefox-esr';
/** Firefox starts in 2–5 s; a page run takes about a second. Generous on a busy machine. */
const LAUNCH_TIMEOUT = 60_000;
const PAGE_TIMEOUT = 45_000;

let browser: Browser | undefined;
let isolated: RunningServer | undefined;
let plain: RunningServer | undefined;

beforeAll(async () => {
  if (!existsSync(FIREFOX)) {
    throw new Error(
      `Firefox is missing: ${FIREFOX} does not exist. The browser test needs Debian's firefox-esr ` +
        '(`apt-get install firefox-esr`; .ci/run installs it when missing).',
    );
  }
  isolated = await startServer({ isolated: true });
  plain = await startServer({ isolated: false });
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    protocol: 'webDriverBiDi',
    timeout: LAUNCH_TIMEOUT,
    extraPrefsFirefox: {
      // Nothing but the loopback server: no captive-portal or connectivity checks, no safe browsing.
      'network.captive-portal-service.enabled': false,
      'network.connectivity-service.enabled': false,
      'browser.safebrowsing.malware.enabled': false,
      'browser.safebrowsing.phishing.enabled': false,
    },
  });
}, LAUNCH_TIMEOUT + 10_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([stopServer(isolated), stopServer(plain)]);
}, 30_000);

/**
 * Loads page.html from `server` and waits for `window.__result`. Returns the result and every
 * problem the browser reported on the way: console errors, page errors, failed or non-2xx
 * requests. Any failure to get a result carries them in its message.
 */
async function run(server: RunningServer | undefined, query = ''): Promise<{ result: PageResult; problems: string[] }> {
  if (browser === undefined || server === undefined) throw new Error('the browser or the server did not start (see beforeAll)');
  const page = await browser.newPage();
  const problems: string[] = [];
  const firstRequest = server.requests.length;
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}: ${r.failure()?.errorText ?? '?'}`));
  const badRequests = (): string[] =>
    server.requests
      .slice(firstRequest)
      .filter((r) => r.status >= 300)
      .map((r) => `server answered ${r.status} to ${r.method} ${r.path}`);
  try {
    const response = await page.goto(`${server.origin}/test/browser/page.html${query}`, { timeout: PAGE_TIMEOUT });
    if (response === null || response.status() !== 200) throw new Error(`page.html: HTTP ${response?.status() ?? 'no response'}`);
    await page.waitForFunction(() => '__result' in window, { timeout: PAGE_TIMEOUT });
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

describe('in headless Firefox ESR', () => {
  it('is the Firefox ESR that Debian ships (a browser with Atomics.waitAsync: 145 or later)', async () => {
    const version = (await browser?.version()) ?? '';
    expect(version).toMatch(/^firefox\/\d+/);
    expect(Number(/^firefox\/(\d+)/.exec(version)?.[1])).toBeGreaterThanOrEqual(145);
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
