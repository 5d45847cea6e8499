// A real Apache httpd with mod_auth_openidc (Debian apache2, libapache2-mod-auth-openidc) as a
// relying party of a Keystep under test: started by the test as its own process
// (`apache2 -X`, one process in the foreground, never systemd) with a generated configuration
// on a free loopback port, and stopped after. A missing apache2 or module is an error.
//
// The protected page is /protected/index.html (a static "PROTECTED PAGE"); mod_auth_openidc's redirect
// URI is /protected/redirect_uri, and its back-channel logout endpoint that URI with
// ?logout=backchannel.

import { spawn } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { freePort } from './keystep.mjs';
import { sleep } from './wait.mjs';

const MODULES = '/usr/lib/apache2/modules';
export const PROTECTED_TEXT = 'PROTECTED PAGE';

export class Apache {
  constructor({ dir, port }) {
    this.dir = dir;
    this.port = port;
    this.origin = `http://127.0.0.1:${port}`;
    this.redirectUri = `${this.origin}/protected/redirect_uri`;
    this.backchannelLogoutUri = `${this.redirectUri}?logout=backchannel`;
    this.protectedUrl = `${this.origin}/protected/index.html`;
    this.process = null;
    this.output = '';
  }

  // A port and directory for an Apache, before its client is registered (the redirect URI
  // names the port).
  static async prepare() {
    for (const file of ['/usr/sbin/apache2', `${MODULES}/mod_auth_openidc.so`]) {
      try {
        await access(file);
      } catch {
        throw new Error(`${file} is missing: apt-get install apache2 libapache2-mod-auth-openidc`);
      }
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'keystep-apache-'));
    return new Apache({ dir, port: await freePort() });
  }

  // Writes the configuration for `ks`'s client `clientId`/`secret` and starts Apache.
  // `location` holds the <Location /protected> directives after AuthType (default:
  // Require valid-user).
  async start({ ks, clientId, secret, location = 'Require valid-user', scope = 'openid email' }) {
    const { dir } = this;
    const htdocs = path.join(dir, 'htdocs');
    await mkdir(path.join(htdocs, 'protected'), { recursive: true });
    await writeFile(path.join(htdocs, 'protected', 'index.html'), `${PROTECTED_TEXT}\n`);
    // Apache drops to www-data after binding; it must read the pages.
    for (const p of [dir, htdocs, path.join(htdocs, 'protected')]) await chmod(p, 0o755);
    await chmod(path.join(htdocs, 'protected', 'index.html'), 0o644);
    const conf = `
ServerRoot ${dir}
Listen 127.0.0.1:${this.port}
ServerName 127.0.0.1
PidFile ${dir}/apache.pid
DefaultRuntimeDir ${dir}
ErrorLog ${dir}/error.log
LogLevel warn auth_openidc:info
User www-data
Group www-data
LoadModule mpm_prefork_module ${MODULES}/mod_mpm_prefork.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_user_module ${MODULES}/mod_authz_user.so
LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so
LoadModule headers_module ${MODULES}/mod_headers.so
DocumentRoot ${htdocs}
# Node's fetch sends Sec-Fetch-Mode: cors with every request, which mod_auth_openidc takes for
# a script's call and answers 401 instead of redirecting; a browser navigating sends navigate.
RequestHeader set Sec-Fetch-Mode navigate early
OIDCProviderMetadataURL ${ks.issuer}/.well-known/openid-configuration
OIDCClientID ${clientId}
OIDCClientSecret ${secret}
OIDCRedirectURI ${this.redirectUri}
OIDCCryptoPassphrase ${'p'.repeat(32)}
OIDCScope "${scope}"
OIDCProviderTokenEndpointAuth client_secret_basic
<Location /protected>
  AuthType openid-connect
  ${location}
</Location>
`;
    await writeFile(path.join(dir, 'httpd.conf'), conf);
    const child = spawn('/usr/sbin/apache2', ['-X', '-f', path.join(dir, 'httpd.conf')],
                        { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    child.stdout.on('data', (d) => (this.output += d));
    child.stderr.on('data', (d) => (this.output += d));
    let exit = null;
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    this.exited.then((e) => (exit = e));
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && !exit) {
      try {
        const res = await fetch(`${this.origin}/`, { redirect: 'manual' });
        if (res.status === 404) return;
      } catch {
        // Not listening yet.
      }
      await sleep(50);
    }
    if (!exit) child.kill('SIGKILL');
    await this.exited;
    this.process = null;
    throw new Error(`apache2 did not start (exit ${JSON.stringify(exit)}): ${this.output}\n${await this.errorLog()}`);
  }

  async errorLog() {
    try {
      return await readFile(path.join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop() {
    const child = this.process;
    this.process = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await this.exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

// Follows redirects from `url` with `browser` (lib/browser.mjs) across Apache and Keystep, at
// most `limit` hops; returns { response, url, hops: [urls] }.
export async function follow(browser, url, limit = 30) {
  const hops = [];
  let current = new URL(url);
  for (;;) {
    hops.push(current.href);
    const response = await browser.get(current.href);
    if (response.status < 300 || response.status > 399 || !response.location) {
      return { response, url: current, hops };
    }
    if (hops.length >= limit) throw new Error(`more than ${limit} redirects: ${hops.join('\n')}`);
    current = response.location;
  }
}
