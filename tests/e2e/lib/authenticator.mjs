// The user's authenticator app, played by independent tools: zbarimg (ZBar) reads the QR code
// and oathtool (OATH Toolkit) computes TOTP codes, so neither shares code with keystep.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TOTP_PERIOD = 30;

// Decodes a data:image/png;base64 URI and returns the text of the QR code it shows.
export async function readQrDataUri(dataUri) {
  const m = /^data:image\/png;base64,([A-Za-z0-9+/=]+)$/.exec(dataUri);
  if (!m) throw new Error(`not a base64 PNG data URI: ${dataUri.slice(0, 60)}…`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keystep-qr-'));
  try {
    const file = path.join(dir, 'qr.png');
    await writeFile(file, Buffer.from(m[1], 'base64'));
    const { stdout } = await run('zbarimg', ['--raw', '-q', file]);
    return stdout.replace(/\n$/, '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// The 6-digit SHA-1 code a 30-second authenticator shows at `unixSeconds` (default: now).
export async function totpCode(base32Secret, unixSeconds = Math.floor(Date.now() / 1000)) {
  const { stdout } = await run('oathtool', ['--totp', '-b', '-N', `@${unixSeconds}`, base32Secret]);
  return stdout.trim();
}

export function totpStep(unixSeconds) {
  return Math.floor(unixSeconds / TOTP_PERIOD);
}

// Resolves once the clock is in a TOTP step later than `step`, i.e. when an app would show a
// new code; returns the current unix time then.
export async function waitForStepAfter(step) {
  const target = (step + 1) * TOTP_PERIOD * 1000 + 100;
  const delay = target - Date.now();
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  return Math.floor(Date.now() / 1000);
}

// A six-digit code that is not `code`.
export function otherCode(code) {
  return String((Number(code) + 500000) % 1000000).padStart(6, '0');
}
