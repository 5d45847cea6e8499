// Debian's chromium for the browser tests (playwright-core drives it), and the relying
// party's callback page that chromium's redirect lands on.

import http from 'node:http';
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
