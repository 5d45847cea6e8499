// Debian's chromium for the browser tests (playwright-core drives it), and the relying
// party's callback page that chromium's redirect lands on.

import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                       '--disable-background-networking', '--disable-component-update',
                       '--disable-sync'];

// Launches headless chromium; close it with browser.close().
export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

// Serves the RP's redirect URI (ks.rpOrigin) with a plain page, so a sign-in that ends at the
// RP lands somewhere; the code is read from the browser's URL. Close it with server.close().
export async function serveRpCallback(ks) {
  const server = http.createServer((req, res) => res.end('signed in to the relying party\n'));
  await new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(Number(new URL(ks.rpOrigin).port), '127.0.0.1', resolve);
  });
  return server;
}

// The viewport of the user guide's screenshots (docs/screenshots/take.mjs takes the others).
export const GUIDE_VIEWPORT = { width: 900, height: 900 };

// Where a suite's screenshots go: $KEYSTEP_SCREENSHOTS when set (docs/images, for the guides:
// KEYSTEP_SCREENSHOTS=$PWD/docs/images), else a temporary directory that cleanup() removes.
// shoot(page, name) writes name.png of the whole page and checks it is not blank.
export async function screenshots() {
  const chosen = process.env.KEYSTEP_SCREENSHOTS;
  const dir = chosen ?? await mkdtemp(path.join(os.tmpdir(), 'keystep-shots-'));
  return {
    dir,
    async shoot(page, name) {
      const file = path.join(dir, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      assert.ok((await stat(file)).size > 5000, `${file} looks empty`);
    },
    async cleanup() {
      if (!chosen) await rm(dir, { recursive: true, force: true });
    },
  };
}

// The id of the element that has focus on `page` ('' for none). Chromium applies `autofocus` at
// its next rendering update, which may come after the load event that ends a navigation, so this
// waits up to 2 s for some element other than the body to take focus before reading it.
export async function focusedId(page) {
  await page.waitForFunction(() => document.activeElement && document.activeElement !== document.body,
                             null, { timeout: 2000 }).catch(() => {});
  return page.evaluate(() => document.activeElement?.id ?? '');
}
