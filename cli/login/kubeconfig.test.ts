import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { clusterNameFor, defaultKubeconfigPath, existingCertificateAuthority, mergeLogin, parseKubeconfig, writeKubeconfigAtomic, type LoginEntries } from './kubeconfig.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const OTHER_CA = '-----BEGIN CERTIFICATE-----\nMIIBother\n-----END CERTIFICATE-----\n';
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A kubeconfig someone already uses: another cluster, user and context, a comment, extra fields. */
const EXISTING = `# my clusters
apiVersion: v1
kind: Config
clusters:
  - name: prod # the big one
    cluster:
      server: https://prod.example.com:6443
      certificate-authority-data: ${b64(OTHER_CA)}
users:
  - name: admin
    user:
      token: admin-token
contexts:
  - name: prod-admin
    context:
      cluster: prod
      user: admin
      namespace: kube-system
current-context: prod-admin
preferences:
  colors: true
`;

const entries = (overrides: Partial<LoginEntries> = {}): LoginEntries => ({
  server: 'https://127.0.0.1:6443',
  clusterName: '127-0-0-1:6443',
  certificateAuthorityPem: CA,
  userName: 'alice@127-0-0-1:6443',
  token: 'token-1',
  contextName: 'alice@127-0-0-1:6443',
  ...overrides,
});

function merged(text: string | undefined, overrides: Partial<LoginEntries> = {}) {
  const out = mergeLogin(parseKubeconfig(text, 'config'), entries(overrides)).toString();
  return { text: out, config: YAML.parse(out) };
}

describe('mergeLogin', () => {
  it('adds the cluster, user and context and makes the context current, keeping everything else and its comments', () => {
    const { text, config } = merged(EXISTING);
    expect(text).toContain('# my clusters');
    expect(text).toContain('# the big one');
    expect(config.clusters).toEqual([
      { name: 'prod', cluster: { server: 'https://prod.example.com:6443', 'certificate-authority-data': b64(OTHER_CA) } },
      { name: '127-0-0-1:6443', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64(CA) } },
    ]);
    expect(config.users).toEqual([
      { name: 'admin', user: { token: 'admin-token' } },
      { name: 'alice@127-0-0-1:6443', user: { token: 'token-1' } },
    ]);
    expect(config.contexts).toEqual([
      { name: 'prod-admin', context: { cluster: 'prod', user: 'admin', namespace: 'kube-system' } },
      { name: 'alice@127-0-0-1:6443', context: { cluster: '127-0-0-1:6443', user: 'alice@127-0-0-1:6443' } },
    ]);
    expect(config['current-context']).toBe('alice@127-0-0-1:6443');
    expect(config.preferences).toEqual({ colors: true });
  });

  it('a second login replaces the token in place: no duplicates; the context keeps its namespace, the cluster its extra fields', () => {
    const first = merged(EXISTING).text;
    const edited = YAML.parseDocument(first);
    edited.setIn(['contexts', 1, 'context', 'namespace'], 'acme-web');
    edited.setIn(['clusters', 1, 'cluster', 'proxy-url'], 'http://proxy:3128');
    // Leftover credentials of another kind must not ride along with the new token.
    edited.setIn(['users', 1, 'user', 'client-certificate-data'], 'c3RhbGU=');
    const { config } = merged(edited.toString(), { token: 'token-2' });
    expect(config.users.filter((user: { name: string }) => user.name === 'alice@127-0-0-1:6443')).toEqual([{ name: 'alice@127-0-0-1:6443', user: { token: 'token-2' } }]);
    expect(config.clusters).toHaveLength(2);
    expect(config.clusters[1].cluster['proxy-url']).toBe('http://proxy:3128');
    expect(config.contexts).toHaveLength(2);
    expect(config.contexts[1].context).toEqual({ cluster: '127-0-0-1:6443', user: 'alice@127-0-0-1:6443', namespace: 'acme-web' });
  });

  it('trusts the server one way only: insecure-skip-tls-verify drops a CA, a CA drops insecure', () => {
    const insecure = merged(EXISTING, { certificateAuthorityPem: undefined, insecureSkipTlsVerify: true });
    expect(insecure.config.clusters[1].cluster).toEqual({ server: 'https://127.0.0.1:6443', 'insecure-skip-tls-verify': true });
    const again = mergeLogin(parseKubeconfig(insecure.text, 'config'), entries()).toString();
    expect(YAML.parse(again).clusters[1].cluster).toEqual({ server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64(CA) });
  });

  it('starts a new kubeconfig from a missing or empty file', () => {
    for (const text of [undefined, '', '\n']) {
      const { config } = merged(text, { contextName: 'dev' });
      expect(config).toMatchObject({ apiVersion: 'v1', kind: 'Config', 'current-context': 'dev' });
      expect(config.contexts).toEqual([{ name: 'dev', context: { cluster: '127-0-0-1:6443', user: 'alice@127-0-0-1:6443' } }]);
    }
  });

  it('refuses files it would damage: broken YAML, not a mapping, a list that is not one', () => {
    expect(() => parseKubeconfig('clusters: [\n', '/home/a/.kube/config')).toThrow(/\/home\/a\/\.kube\/config is not valid YAML/);
    expect(() => parseKubeconfig('- a\n- b\n', 'f')).toThrow(/not a kubeconfig/);
    expect(() => mergeLogin(parseKubeconfig('clusters: oops\n', 'f'), entries())).toThrow(/clusters is not a list/);
  });
});

describe('existingCertificateAuthority', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-login-kc-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds the CA of an entry with the same server (trailing slash and host case aside), inline or as a file relative to the kubeconfig', () => {
    const document = parseKubeconfig(EXISTING, 'config');
    expect(existingCertificateAuthority(document, 'https://PROD.example.com:6443/', 'config')).toBe(OTHER_CA);
    expect(existingCertificateAuthority(document, 'https://prod.example.com:7443', 'config')).toBeUndefined();
    fs.writeFileSync(path.join(dir, 'ca.crt'), CA);
    const withFile = parseKubeconfig('clusters:\n  - name: x\n    cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.crt}\n', 'config');
    expect(existingCertificateAuthority(withFile, 'https://10.0.0.1:6443', path.join(dir, 'config'))).toBe(CA);
  });
});

describe('writeKubeconfigAtomic and the default file', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-login-kc-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes mode 0600 (also over a looser file), creates the directory, leaves no temporary file', () => {
    const file = path.join(dir, '.kube', 'config');
    writeKubeconfigAtomic(file, 'a: 1\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    fs.chmodSync(file, 0o644);
    writeKubeconfigAtomic(file, 'a: 2\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('a: 2\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['config']);
  });

  it('writes through a symlinked kubeconfig, which stays a link', () => {
    const real = path.join(dir, 'real-config');
    fs.writeFileSync(real, 'old\n', { mode: 0o600 });
    const link = path.join(dir, 'config');
    fs.symlinkSync(real, link);
    expect(writeKubeconfigAtomic(link, 'new\n')).toBe(real);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(real, 'utf8')).toBe('new\n');
  });

  it('the default file is the first of $KUBECONFIG, else ~/.kube/config', () => {
    expect(defaultKubeconfigPath({ KUBECONFIG: `${path.delimiter}/a/one${path.delimiter}/b/two`, HOME: '/home/x' })).toBe('/a/one');
    expect(defaultKubeconfigPath({ HOME: '/home/x' })).toBe('/home/x/.kube/config');
    expect(defaultKubeconfigPath({ KUBECONFIG: '', HOME: '/home/x' })).toBe('/home/x/.kube/config');
  });

  it('names clusters after host and port', () => {
    expect(clusterNameFor(new URL('https://127.0.0.1:6443'))).toBe('127-0-0-1:6443');
    expect(clusterNameFor(new URL('https://api.example.com/'))).toBe('api-example-com:443');
    expect(clusterNameFor(new URL('https://[::1]:6443'))).toBe('--1:6443');
  });
});
