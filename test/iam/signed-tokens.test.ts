// Signed tokens end to end: an administrator creates a User with the real kubectl, `photon kubeconfig user`
// prints a kubeconfig for it, and the token authenticates exactly while it should. Authentication is told
// apart from authorization by the status: 401 means the credentials were refused; anything else (200 for
// discovery, which every authenticated user may read, or 403) means they were accepted.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { run } from '../../agents/ovn-local/commands.ts';
import { JwtTokenIssuer } from '../../apiserver/auth/tokens/issuer.ts';
import { signJwt, type JwtClaims } from '../../apiserver/auth/tokens/jwt.ts';
import { readSigningKeys, signingKeyDirectory } from '../../apiserver/auth/tokens/keys.ts';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { kubectlOk, runKubectl, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient } from '../env/http.ts';
import { waitFor } from '../env/process.ts';

/** The server follows its key directory this often; a change must show within a few polls. */
const KEY_POLL_MS = 200;
const SOON = { timeoutMs: 5000, intervalMs: 50 };

let env: TestApiServer;
let client: ApiClient;

beforeAll(async () => {
  env = await startTestApiServer({ storage: 'embedded', overrides: { tokenKeyPollMs: KEY_POLL_MS } });
  client = new ApiClient(env);
});

afterAll(async () => {
  client?.close();
  await env?.stop();
});

/** `photon <args>` as an administrator runs it on the control-plane machine. */
function photon(args: string[]) {
  return run(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'cli', 'photon.ts'), ...args, '--home', env.home], { timeoutMs: 60_000 });
}

/** A kubeconfig for a User from `photon kubeconfig user`, written beside the admin's; returns its file and token. */
async function userKubeconfig(name: string): Promise<{ file: string; token: string }> {
  const result = await photon(['kubeconfig', 'user', name, '--expiration', '1h']);
  if (result.code !== 0) throw new Error(`photon kubeconfig failed (${result.code}): ${result.stderr}`);
  const file = path.join(env.home, `${name}-${Date.now()}.kubeconfig`);
  fs.writeFileSync(file, result.stdout, { mode: 0o600 });
  return { file, token: YAML.parse(result.stdout).users[0].user.token };
}

/** The status of an authenticated-only request made with token: 401 when the token is refused. */
async function statusWith(token: string): Promise<number> {
  return (await client.request('/apis', { token })).status;
}

const authenticates = async (token: string) => (await statusWith(token)) !== 401;
const refused = async (token: string) => (await statusWith(token)) === 401;

function issuedAt(token: string): number {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).iat;
}

async function applyUser(name: string, spec: Record<string, unknown>): Promise<void> {
  kubectlOk(await env.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify({ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'User', metadata: { name }, spec }) }));
}

describe('signed user tokens', () => {
  it('a User created by the admin authenticates with its `photon kubeconfig user` token; its password is stored only as a hash', async () => {
    await applyUser('alice', { displayName: 'Alice', password: 'correct horse battery staple' });
    const stored = kubectlOk(await env.kubectl(['get', 'user', 'alice', '-o', 'json']));
    expect(stored).not.toContain('correct horse');
    expect(JSON.parse(stored).spec.passwordHash).toMatch(/^scrypt\$/);
    // A client cannot set the hash itself.
    const forged = await env.kubectl(['patch', 'user', 'alice', '--type', 'merge', '-p', JSON.stringify({ spec: { passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==' } })]);
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toContain('spec.passwordHash');

    const { file, token } = await userKubeconfig('alice');
    expect(fs.readFileSync(file, 'utf8')).toContain(env.url);
    // The real kubectl with the printed kubeconfig: discovery is open to every authenticated user.
    expect(JSON.parse(kubectlOk(await runKubectl(file, ['get', '--raw', '/apis']))).kind).toBe('APIGroupList');
    expect(await statusWith(token)).toBe(200);
    expect(await statusWith('not-a-token')).toBe(401);
  });

  it('an expired token is refused (401) where the same token unexpired is accepted', async () => {
    const key = readSigningKeys(signingKeyDirectory(env.home))[0]!;
    const now = Math.floor(Date.now() / 1000) + 1; // after alice's creation second
    const claims = (exp: number): JwtClaims => ({
      iss: 'photoncloud',
      sub: 'alice',
      aud: ['photoncloud'],
      iat: now,
      nbf: now,
      exp,
      jti: `test-${exp}`,
      'photoncloud.io': { kind: 'user', name: 'alice' },
    });
    await waitFor('the next second', () => Date.now() / 1000 >= now, SOON);
    expect(await statusWith(signJwt(claims(now + 600), key))).toBe(200);
    // Past exp by more than the 30 s clock skew allowed.
    expect(await statusWith(signJwt(claims(now - 60), key))).toBe(401);
    // The issuer's own tokens, issued two hours ago for one hour: expired (and older than alice, too).
    const old = new JwtTokenIssuer(() => key, { now: () => now - 7200 }).issue({ kind: 'user', name: 'alice' }, 3600);
    expect(await statusWith(old.token)).toBe(401);
  });

  it('disabling the User refuses its tokens within a couple of seconds; enabling accepts them again', async () => {
    const { token } = await userKubeconfig('alice');
    expect(await authenticates(token)).toBe(true);
    kubectlOk(await env.kubectl(['patch', 'user', 'alice', '--type', 'merge', '-p', '{"spec":{"disabled":true}}']));
    await waitFor('the disabled user to be refused', () => refused(token), { timeoutMs: 2000, intervalMs: 50 });
    kubectlOk(await env.kubectl(['patch', 'user', 'alice', '--type', 'merge', '-p', '{"spec":{"disabled":false}}']));
    await waitFor('the re-enabled user to be accepted', () => authenticates(token), { timeoutMs: 2000, intervalMs: 50 });
  });

  it('removing the signing key (after a rotation) refuses the tokens it signed; the new key keeps working', async () => {
    const before = await userKubeconfig('alice');
    const [oldKey] = readSigningKeys(signingKeyDirectory(env.home));
    const rotated = await photon(['token-keys', 'rotate']);
    expect(rotated.code).toBe(0);
    const [newKey] = readSigningKeys(signingKeyDirectory(env.home));
    expect(newKey!.kid).not.toBe(oldKey!.kid);
    // The server signs with the new key once it has noticed it (the CLI signs with it at once).
    await waitFor('the server to sign with the new key', () => readHeaderKid(env.server.tokenIssuer.issue({ kind: 'user', name: 'alice' }, 600).token) === newKey!.kid, SOON);
    const after = await userKubeconfig('alice');
    expect(readHeaderKid(after.token)).toBe(newKey!.kid);
    expect(await authenticates(before.token)).toBe(true);
    expect(await authenticates(after.token)).toBe(true);

    const removed = await photon(['token-keys', 'remove', oldKey!.kid]);
    expect(removed.code).toBe(0);
    await waitFor('tokens of the removed key to be refused', () => refused(before.token), SOON);
    expect(await authenticates(after.token)).toBe(true);
    // The last key cannot go.
    const last = await photon(['token-keys', 'remove', newKey!.kid]);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('only token signing key');
    const listed = await photon(['token-keys', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${newKey!.kid}\\t.*\\(signs\\)$`))]);
  });

  it('deleting the User refuses its tokens; a new User of the same name does not inherit them', async () => {
    const { token } = await userKubeconfig('alice');
    expect(await authenticates(token)).toBe(true);
    kubectlOk(await env.kubectl(['delete', 'user', 'alice']));
    await waitFor('the deleted user to be refused', () => refused(token), SOON);
    // creationTimestamp has whole seconds: re-create in a later second than the token was issued in, as any
    // real re-creation is, so the check below is about identity and not about the clock's resolution.
    await waitFor('a second after the token was issued', () => Math.floor(Date.now() / 1000) > issuedAt(token), SOON);
    await applyUser('alice', { displayName: 'Another Alice' });
    const fresh = await userKubeconfig('alice');
    await waitFor('the new alice to be accepted', () => authenticates(fresh.token), SOON);
    expect(await statusWith(token)).toBe(401);
  });

  it('photon kubeconfig refuses an expiration beyond the maximum and a name that is not a user name (exit 2)', async () => {
    const tooLong = await photon(['kubeconfig', 'user', 'alice', '--expiration', '90d']);
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain('longer than a user token may live (30d)');
    const badName = await photon(['kubeconfig', 'user', 'system:admin']);
    expect(badName.code).toBe(2);
    expect(badName.stdout).toBe('');
  });
});

function readHeaderKid(token: string): string {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;
}
