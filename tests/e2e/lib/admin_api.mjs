// The admin API (docs/admin-api.md) as a script calls it: JSON over HTTP with a Bearer token.

export class AdminApi {
  constructor(ks, token, account = 'acme') {
    this.base = `${ks.issuer}/api/v1/accounts/${account}`;
    this.token = token;
  }

  // Returns { status, body (parsed JSON) }.
  async request(method, pathname, body) {
    const headers = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}${pathname}`,
                            { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${pathname} answered ${res.status} with non-JSON:\n${text}`);
    }
    return { status: res.status, body: json };
  }

  settings() {
    return this.request('GET', '/authentication-settings');
  }

  putSettings(body) {
    return this.request('PUT', '/authentication-settings', body);
  }

  // The members by email: { [email]: member }.
  async membersByEmail() {
    const { status, body } = await this.request('GET', '/members');
    if (status !== 200) throw new Error(`GET /members answered ${status}: ${JSON.stringify(body)}`);
    return Object.fromEntries(body.members.map((m) => [m.email, m]));
  }

  // A member's credentials as GET …/credentials lists them (with their public details).
  async credentials(memberId) {
    const { status, body } = await this.request('GET', `/members/${memberId}/credentials`);
    if (status !== 200) throw new Error(`GET credentials answered ${status}: ${JSON.stringify(body)}`);
    return body.credentials;
  }

  credential(memberId, credentialId) {
    return this.request('GET', `/members/${memberId}/credentials/${credentialId}`);
  }

  auditEvents(query = {}) {
    return this.request('GET', `/audit-events?${new URLSearchParams(query)}`);
  }
}
