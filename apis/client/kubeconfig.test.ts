import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadKubeconfig, parseKubeconfig } from './kubeconfig.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

const CONFIG = `
apiVersion: v1
kind: Config
clusters:
  - name: photon
    cluster:
      server: https://127.0.0.1:6443/
      certificate-authority-data: ${b64('CA PEM')}
  - name: other
    cluster:
      server: https://other:6443
      insecure-skip-tls-verify: true
users:
  - name: admin
    user:
      token: secret-token
  - name: cert-user
    user:
      client-certificate-data: ${b64('CERT PEM')}
      client-key-data: ${b64('KEY PEM')}
contexts:
  - name: admin@photon
    context: { cluster: photon, user: admin, namespace: acme-web }
  - name: cert@other
    context: { cluster: other, user: cert-user }
current-context: admin@photon
`;

describe('kubeconfig', () => {
  it('reads the current context: server, CA data, token, namespace', () => {
    expect(parseKubeconfig(CONFIG)).toEqual({ server: 'https://127.0.0.1:6443', caPem: 'CA PEM', token: 'secret-token', namespace: 'acme-web', context: 'admin@photon' });
  });

  it('reads another context: client certificate and insecure-skip-tls-verify', () => {
    expect(parseKubeconfig(CONFIG, '/', 'cert@other')).toEqual({ server: 'https://other:6443', insecureSkipTlsVerify: true, clientCertificatePem: 'CERT PEM', clientKeyPem: 'KEY PEM', context: 'cert@other' });
  });

  it('resolves file references relative to the kubeconfig', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeconfig-test-'));
    try {
      fs.writeFileSync(path.join(dir, 'ca.pem'), 'FILE CA');
      fs.writeFileSync(path.join(dir, 'token'), 'file-token\n');
      const file = path.join(dir, 'config');
      fs.writeFileSync(
        file,
        'clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority: ca.pem}}]\nusers: [{name: u, user: {tokenFile: token}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
      );
      expect(loadKubeconfig(file)).toEqual({ server: 'https://h:1', caPem: 'FILE CA', token: 'file-token', context: 'x' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explains what is missing', () => {
    expect(() => parseKubeconfig('clusters: []')).toThrow('no current-context');
    expect(() => parseKubeconfig(CONFIG, '/', 'nope')).toThrow('context "nope" not found');
  });
});
