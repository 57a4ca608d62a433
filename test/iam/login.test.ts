// Password login end to end: the admin creates Users with the real kubectl, `photon login` (the real CLI,
// password on stdin) trades a password for a token at POST /login and merges a context into a kubeconfig
// that already holds another one, and the real kubectl then says who it is. The endpoint's refusals are
// checked on the wire: every wrong credential is the same 401, repeated failures become 429 with
// Retry-After, and neither the password nor the token reaches the audit log.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { run } from '../../agents/ovn-local/commands.ts';
import { kubectlOk, runKubectl, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient, type HttpResult } from '../env/http.ts';
import { waitFor } from '../env/process.ts';
import { PHOTON_CLI } from '../env/tenants.ts';

/** Low enough to reach quickly; the address limit high, as every request here comes from 127.0.0.1. */
const MAX_FAILURES_PER_USER = 4;
const PASSWORD = 'correct horse battery staple';

let env: TestApiServer;
let client: ApiClient;
let scratch: string;

beforeAll(async () => {
  env = await startTestApiServer({ storage: 'embedded', overrides: { loginLimits: { maxFailuresPerUser: MAX_FAILURES_PER_USER, maxFailuresPerAddress: 1000 } } });
  client = new ApiClient(env);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-login-'));
  const user = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'User', metadata: { name }, spec });
  const users = [
    user('alice', { password: PASSWORD }),
    user('bob', { password: PASSWORD }),
    user('carol', { password: PASSWORD }),
    user('dave', { password: PASSWORD, disabled: true }),
    user('erin', { displayName: 'no password' }),
  ];
  kubectlOk(await env.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: users }) }));
  // The server reads Users from its watch cache: wait until the last one is there (a login succeeds).
  await waitFor('the Users in the watch cache', async () => (await login({ username: 'alice', password: PASSWORD })).status === 200, { timeoutMs: 10_000, intervalMs: 100 });
});

afterAll(async () => {
  client?.close();
  await env?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

function login(body?: unknown, options: { headers?: Record<string, string>; method?: string } = {}): Promise<HttpResult> {
  return client.request('/login', { method: options.method ?? 'POST', anonymous: true, body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body), headers: options.headers });
}

/** A home directory whose ~/.kube/config already holds the admin's context (named "admin"). */
function homeWithAdminContext(name: string): { home: string; kubeconfig: string; before: string } {
  const home = path.join(scratch, name);
  const kubeconfig = path.join(home, '.kube', 'config');
  fs.mkdirSync(path.dirname(kubeconfig), { recursive: true });
  const admin = YAML.parse(fs.readFileSync(env.kubeconfig, 'utf8'));
  admin.clusters[0].name = 'local';
  admin.users[0].name = 'admin';
  admin.contexts = [{ name: 'admin', context: { cluster: 'local', user: 'admin', namespace: 'default' } }];
  admin['current-context'] = 'admin';
  const before = `# the admin's own kubeconfig\n${YAML.stringify(admin)}`;
  fs.writeFileSync(kubeconfig, before, { mode: 0o600 });
  return { home, kubeconfig, before };
}

/** `photon login …` as a user runs it, password on stdin, with its own HOME (and no KUBECONFIG unless given). */
function photonLogin(args: string[], password: string, home: string, extraEnv: Record<string, string> = {}) {
  const { KUBECONFIG: _ignored, ...rest } = process.env;
  return run(process.execPath, ['--import', 'tsx', PHOTON_CLI, 'login', ...args], { input: `${password}\n`, env: { ...rest, HOME: home, ...extraEnv }, timeoutMs: 60_000 });
}

describe('photon login', () => {
  it('writes a context for the user into ~/.kube/config, keeps the one there, and kubectl then is that user', async () => {
    const { home, kubeconfig, before } = homeWithAdminContext('alice');
    const previous = YAML.parse(before);
    // No --certificate-authority: the CA comes from the existing entry for the same server.
    const result = await photonLogin(['--server', env.url, '--user', 'alice', '--expiration', '2h'], PASSWORD, home);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const port = new URL(env.url).port;
    const cluster = `127-0-0-1:${port}`;
    expect(result.stdout).toContain(`Logged in to ${env.url} as alice; context "alice@${cluster}" is now current`);

    expect(fs.statSync(kubeconfig).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(kubeconfig, 'utf8');
    expect(text).toContain("# the admin's own kubeconfig");
    expect(text).not.toContain(PASSWORD);
    const config = YAML.parse(text);
    expect(config['current-context']).toBe(`alice@${cluster}`);
    expect(config.clusters).toEqual([previous.clusters[0], { name: cluster, cluster: { server: env.url, 'certificate-authority-data': previous.clusters[0].cluster['certificate-authority-data'] } }]);
    expect(config.users[0]).toEqual(previous.users[0]);
    expect(config.users[1]).toEqual({ name: `alice@${cluster}`, user: { token: expect.stringMatching(/^ey/) } });
    expect(config.contexts).toEqual([previous.contexts[0], { name: `alice@${cluster}`, context: { cluster, user: `alice@${cluster}` } }]);
    // The token lives as long as asked.
    const claims = JSON.parse(Buffer.from(config.users[1].user.token.split('.')[1], 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(7200);

    const whoami = JSON.parse(kubectlOk(await runKubectl(kubeconfig, ['auth', 'whoami', '-o', 'json'])));
    expect(whoami.status.userInfo.username).toBe('alice');
    expect(whoami.status.userInfo.groups).toContain('system:authenticated');
    // The context that was there still works.
    const admin = JSON.parse(kubectlOk(await runKubectl(kubeconfig, ['--context', 'admin', 'auth', 'whoami', '-o', 'json'])));
    expect(admin.status.userInfo.username).not.toBe('alice');
  });

  it('with --kubeconfig, --certificate-authority and --context: writes there, a new file if need be', async () => {
    const home = path.join(scratch, 'alice-flags');
    fs.mkdirSync(home);
    const ca = path.join(home, 'ca.crt');
    fs.writeFileSync(ca, env.server.caCertificatePem);
    const kubeconfig = path.join(home, 'elsewhere', 'config.yaml');
    const result = await photonLogin(['--server', env.url, '--user', 'alice', '--kubeconfig', kubeconfig, '--certificate-authority', ca, '--context', 'work'], PASSWORD, home);
    expect(result.code).toBe(0);
    expect(fs.existsSync(path.join(home, '.kube'))).toBe(false);
    expect(YAML.parse(fs.readFileSync(kubeconfig, 'utf8'))['current-context']).toBe('work');
    expect(JSON.parse(kubectlOk(await runKubectl(kubeconfig, ['auth', 'whoami', '-o', 'json']))).status.userInfo.username).toBe('alice');
  });

  it('a wrong password exits 1 with a plain message and leaves the kubeconfig untouched', async () => {
    const { home, kubeconfig, before } = homeWithAdminContext('alice-wrong');
    const result = await photonLogin(['--server', env.url, '--user', 'alice'], 'not the password', home, { KUBECONFIG: kubeconfig });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('login failed: wrong user name or password\n');
    expect(fs.readFileSync(kubeconfig, 'utf8')).toBe(before);
    expect(fs.readdirSync(path.dirname(kubeconfig))).toEqual(['config']);
  });

  it('usage errors exit 2 before any password is sent: plain http, no --user, a bad duration, contradicting flags', async () => {
    const home = path.join(scratch, 'usage');
    fs.mkdirSync(home);
    const cases: Array<[string[], RegExp]> = [
      [['--server', env.url.replace('https:', 'http:'), '--user', 'alice'], /refusing to send a password over plain http/],
      [['--server', env.url], /--user is required/],
      [['--server', env.url, '--user', 'alice', '--expiration', 'soon'], /--expiration must be a positive duration/],
      [['--server', env.url, '--user', 'alice', '--insecure-skip-tls-verify', '--certificate-authority', '/x'], /contradict/],
      // The server's own bound: more than 30 days.
      [['--server', env.url, '--user', 'alice', '--insecure-skip-tls-verify', '--expiration', '31d'], /expirationSeconds: must be at most 2592000/],
    ];
    for (const [args, message] of cases) {
      const result = await photonLogin(args, PASSWORD, home);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
    }
    expect(fs.existsSync(path.join(home, '.kube'))).toBe(false);
  });
});

describe('POST /login', () => {
  it('answers a token (not cached) that authenticates as the user; even a request carrying a bad bearer token may log in', async () => {
    const answer = await login({ username: 'alice', password: PASSWORD, expirationSeconds: 600 }, { headers: { Authorization: 'Bearer nonsense' } });
    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    const { token, expirationTimestamp } = answer.json();
    expect(Math.abs(Date.parse(expirationTimestamp) - Date.now() - 600_000)).toBeLessThan(10_000);
    expect((await client.request('/apis', { token })).status).toBe(200);
  });

  it('refuses other methods (405), other media types (415), large bodies (413) and bad fields (400 naming them)', async () => {
    const get = await login(undefined, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect((await login(`username=alice&password=x`, { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })).status).toBe(415);
    expect((await login({ username: 'alice', password: 'x'.repeat(5000) })).status).toBe(413);
    const bad = await login({ username: 'alice', password: PASSWORD, expirationSeconds: 31 * 86400 });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ kind: 'Status', code: 400, message: expect.stringMatching(/^expirationSeconds: /), details: { causes: [{ field: 'expirationSeconds' }] } });
    expect((await login({ username: 'alice' })).json().message).toMatch(/^password: /);
  });

  it('a disabled user and a user without a password get the same 401 as a wrong password; so does an unknown user, after as long', async () => {
    const comparable = (answer: HttpResult) => ({ status: answer.status, text: answer.text, type: answer.headers['content-type'], length: answer.headers['content-length'] });
    const timed = async (body: unknown) => {
      const started = process.hrtime.bigint();
      const answer = await login(body);
      return { answer, ms: Number(process.hrtime.bigint() - started) / 1e6 };
    };
    const wrong = await timed({ username: 'bob', password: 'wrong password' });
    expect(wrong.answer.status).toBe(401);
    expect(wrong.answer.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', message: 'invalid user name or password' });
    const unknown = await timed({ username: 'nobody-here', password: 'wrong password' });
    expect(comparable(unknown.answer)).toEqual(comparable(wrong.answer));
    expect(comparable(await login({ username: 'dave', password: PASSWORD }))).toEqual(comparable(wrong.answer));
    expect(comparable(await login({ username: 'erin', password: PASSWORD }))).toEqual(comparable(wrong.answer));
    // An unknown user's password is checked too (against a dummy hash): not answered in a fraction of the time.
    expect(unknown.ms).toBeGreaterThan(wrong.ms / 4);
    // And the CLI says what kubectl users expect for a disabled user.
    const result = await photonLogin(['--server', env.url, '--user', 'dave', '--insecure-skip-tls-verify', '--kubeconfig', path.join(scratch, 'dave.config')], PASSWORD, scratch);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('login failed: wrong user name or password');
  });

  it('after repeated failures a name is refused with 429 and Retry-After, even with the right password, known or not', async () => {
    for (const username of ['carol', 'no-such-user']) {
      for (let attempt = 0; attempt < MAX_FAILURES_PER_USER; attempt++) expect((await login({ username, password: `guess ${attempt}` })).status).toBe(401);
      const limited = await login({ username, password: PASSWORD });
      expect(limited.status).toBe(429);
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(300);
      expect(limited.json()).toMatchObject({ kind: 'Status', code: 429, reason: 'TooManyRequests', details: { retryAfterSeconds: retryAfter } });
    }
    // Another name from the same address is not affected.
    expect((await login({ username: 'bob', password: PASSWORD })).status).toBe(200);
    const result = await photonLogin(['--server', env.url, '--user', 'carol', '--insecure-skip-tls-verify', '--kubeconfig', path.join(scratch, 'carol.config')], PASSWORD, scratch);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^login failed: too many attempts; try again in \d+ seconds/);
    expect(fs.existsSync(path.join(scratch, 'carol.config'))).toBe(false);
  });

  it('neither the password nor the token is in the audit log, though the logins are', async () => {
    const answer = await login({ username: 'alice', password: PASSWORD });
    const { token } = answer.json();
    const file = path.join(env.home, 'audit', 'audit.log');
    const auditId = String(answer.headers['audit-id']);
    const text = await waitFor('the login in the audit log', () => {
      const content = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      return content.includes(auditId) && content;
    });
    const event = text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .find((candidate) => candidate.auditID === auditId);
    expect(event).toMatchObject({ requestURI: '/login', verb: expect.any(String), responseStatus: { code: 200 } });
    expect(event.annotations).toMatchObject({ 'login.photoncloud.io/user': 'alice', 'login.photoncloud.io/result': 'success' });
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(token);
  });
});
