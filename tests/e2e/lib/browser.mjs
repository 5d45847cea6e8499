// A minimal browser for driving the IdP's pages: fetch with manual redirects, a cookie jar
// honouring Path and Max-Age (all traffic is to one loopback host), and an HTML form reader.

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name in ENTITIES) return ENTITIES[name];
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return whole;
  });
}

function parseAttributes(tag) {
  const attrs = {};
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const body = tag.replace(/^<\s*[a-z]+/i, '').replace(/\/?>$/, '');
  for (const m of body.matchAll(re)) attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  return attrs;
}

// The forms of a page: [{ attrs, inputs: [attrs…] }].
export function parseForms(html) {
  const forms = [];
  for (const m of html.matchAll(/(<form\b[^>]*>)([\s\S]*?)<\/form>/gi)) {
    const inputs = [...m[2].matchAll(/<input\b[^>]*>/gi)].map((i) => parseAttributes(i[0]));
    forms.push({ attrs: parseAttributes(m[1]), inputs });
  }
  return forms;
}

// The text of the page's alert (role="alert"), or null.
export function alertText(html) {
  const m = html.match(/<[a-z]+\b[^>]*role="alert"[^>]*>([\s\S]*?)<\/[a-z]+>/i);
  return m ? decodeEntities(m[1].replace(/<[^>]*>/g, '')).trim() : null;
}

function parseSetCookie(header) {
  const [pair, ...attrParts] = header.split(';');
  const eq = pair.indexOf('=');
  const cookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), path: '/', attrs: {} };
  for (const part of attrParts) {
    const i = part.indexOf('=');
    const key = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? true : part.slice(i + 1).trim();
    cookie.attrs[key] = value;
    if (key === 'path' && typeof value === 'string' && value.startsWith('/')) cookie.path = value;
    if (key === 'max-age') cookie.maxAge = Number(value);
  }
  return cookie;
}

function pathMatches(cookiePath, requestPath) {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

export class Browser {
  // `headers` go with every request (e.g. X-Forwarded-For, to stand for another client
  // address behind a trusted proxy).
  constructor({ headers = {} } = {}) {
    this.cookies = new Map();  // "name path" -> cookie
    this.headers = headers;
  }

  cookie(name) {
    for (const c of this.cookies.values()) if (c.name === name) return c;
    return undefined;
  }

  setCookie(name, value, path = '/') {
    this.cookies.set(`${name} ${path}`, { name, value, path, attrs: {} });
  }

  cookieHeader(url) {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter((c) => pathMatches(c.path, pathname))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  // Returns { status, location (absolute URL or null), headers, setCookies, body }.
  async request(url, { method = 'GET', form } = {}) {
    const headers = { ...this.headers };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    const setCookies = res.headers.getSetCookie().map(parseSetCookie);
    for (const c of setCookies) {
      const key = `${c.name} ${c.path}`;
      if (c.maxAge !== undefined && c.maxAge <= 0) this.cookies.delete(key);
      else this.cookies.set(key, c);
    }
    const location = res.headers.get('location');
    return {
      status: res.status,
      location: location === null ? null : new URL(location, url),
      headers: res.headers,
      setCookies,
      body: await res.text(),
    };
  }

  get(url) {
    return this.request(url);
  }

  post(url, form) {
    return this.request(url, { method: 'POST', form });
  }
}

// A URL without its query: origin and path.
export function pathOf(url) {
  return url.origin + url.pathname;
}

// Reads the sign-in page: asserts nothing, returns what a user agent would submit.
export function readLoginForm(html) {
  const form = parseForms(html).find((f) => f.inputs.some((i) => i.name === 'password'));
  if (!form) throw new Error(`no sign-in form on the page:\n${html}`);
  const byName = Object.fromEntries(form.inputs.map((i) => [i.name, i]));
  return { form, byName };
}

// Follows the sign-in from an authorization URL to the redirect back to the client.
// Returns { callback: URL, loginPage, authorizeResponse, loginResponse }; `loginPage` is null
// when the IdP answered from an existing session without showing the page.
export async function signIn(browser, authorizationUrl, { email, password }) {
  const authorizeResponse = await browser.get(authorizationUrl);
  if (authorizeResponse.status !== 302 || !authorizeResponse.location)
    throw new Error(`/authorize answered ${authorizeResponse.status}:\n${authorizeResponse.body}`);
  const issuerOrigin = new URL(authorizationUrl).origin;
  if (authorizeResponse.location.origin !== issuerOrigin || authorizeResponse.location.pathname !== '/login')
    return { callback: authorizeResponse.location, loginPage: null, authorizeResponse, loginResponse: null };
  const loginPage = await browser.get(authorizeResponse.location);
  if (loginPage.status !== 200) throw new Error(`/login answered ${loginPage.status}:\n${loginPage.body}`);
  const { form, byName } = readLoginForm(loginPage.body);
  const fields = {};
  for (const input of form.inputs) if (input.name && input.type === 'hidden') fields[input.name] = input.value;
  if (!byName.email) throw new Error('the sign-in form has no email input');
  fields.email = email;
  fields.password = password;
  const action = new URL(form.attrs.action || authorizeResponse.location.href, authorizeResponse.location);
  const loginResponse = await browser.post(action, fields);
  if (loginResponse.status !== 302 || !loginResponse.location)
    throw new Error(`POST /login answered ${loginResponse.status}:\n${loginResponse.body}`);
  return { callback: loginResponse.location, loginPage, authorizeResponse, loginResponse };
}

// The form of a page that posts to `action` (a path), or throws showing the page.
export function formByAction(html, action) {
  const form = parseForms(html).find((f) => f.attrs.action === action);
  if (!form) throw new Error(`no form posting to ${action} on the page:\n${html}`);
  return form;
}

// What a user agent submits for a form's hidden inputs, plus `fields`.
export function formFields(form, fields = {}) {
  const out = {};
  for (const input of form.inputs) if (input.name && input.type === 'hidden') out[input.name] = input.value;
  return { ...out, ...fields };
}

// Submits the form of `page` (fetched from `pageUrl`) that posts to `action`.
export function submitForm(browser, pageUrl, page, action, fields = {}) {
  const form = formByAction(page.body, action);
  return browser.post(new URL(form.attrs.action, pageUrl), formFields(form, fields));
}

// Opens the second-factor page at `url` and submits `code` with the method the page offers.
// Returns { page, response }.
export async function submitSecondFactor(browser, url, code) {
  const page = await browser.get(url);
  if (page.status !== 200) throw new Error(`${url} answered ${page.status}:\n${page.body}`);
  const response = await submitForm(browser, url, page, '/login/second-factor', { code });
  return { page, response };
}
