// authenticate() over real TLS connections, so the certificate fields it reads are Node's own.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { authenticate, TokenAuthenticator, type AuthResult, type Authenticators } from './authenticate.ts';
import { fingerprintOf, issueMastersClientCertificate, MastersCertificates } from './masters-certificates.ts';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority, type KeyPairPem } from './pki.ts';

let home: string;
let ca: CertificateAuthority;
let server: https.Server;
let authenticators: Authenticators;
let recorded: string;

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'authenticate-'));
  recorded = path.join(home, 'masters-client-certificates');
  ca = await createCertificateAuthority();
  const serving = await issueCertificate(ca, { commonName: 'localhost', hosts: ['127.0.0.1'], usage: 'server' });
  authenticators = {
    tokens: new TokenAuthenticator(path.join(home, 'tokens.json')),
    signedTokens: { authenticate: (token) => (token === 'a.b.c' ? { name: 'jwt-user', uid: '', groups: ['system:authenticated'] } : undefined) },
    mastersCertificates: new MastersCertificates(recorded),
  };
  server = https.createServer({ cert: serving.certificatePem, key: serving.keyPem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: false }, (request, response) => {
    response.end(JSON.stringify(authenticate(request, authenticators)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(home, { recursive: true, force: true });
});

function send(options: { client?: KeyPairPem; token?: string }): Promise<AuthResult> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        ca: ca.certificatePem,
        cert: options.client?.certificatePem,
        key: options.client?.keyPem,
        headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
        agent: false,
      },
      (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve(JSON.parse(body)));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

describe('authenticate', () => {
  it('keeps system:masters only on client certificates the server issued to an administrator', async () => {
    const admin = await issueMastersClientCertificate(ca, recorded, 'admin');
    expect(fs.statSync(recorded).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(recorded, 'utf8')).toContain(fingerprintOf(admin.certificatePem));
    // Signed by the same CA, same subject, but never recorded: a superuser certificate nobody can revoke.
    const minted = await issueCertificate(ca, { commonName: 'admin', organizations: ['system:masters', 'ops'], usage: 'client' });
    expect(await send({ client: admin })).toEqual({ user: { name: 'admin', uid: '', groups: ['system:masters', 'system:authenticated'] } });
    expect(await send({ client: minted })).toEqual({ user: { name: 'admin', uid: '', groups: ['ops', 'system:authenticated'] } });
  });

  it('revokes system:masters when the fingerprint is removed from the file', async () => {
    const admin = await issueMastersClientCertificate(ca, recorded, 'operator');
    expect(await send({ client: admin })).toMatchObject({ user: { groups: ['system:masters', 'system:authenticated'] } });
    const fingerprint = fingerprintOf(admin.certificatePem);
    fs.writeFileSync(recorded, fs.readFileSync(recorded, 'utf8').split('\n').filter((line) => !line.includes(fingerprint)).join('\n'));
    expect(await send({ client: admin })).toMatchObject({ user: { groups: ['system:authenticated'] } });
  });

  it('strips system:masters from every certificate when no list is configured; other groups stay', async () => {
    const admin = await issueMastersClientCertificate(ca, recorded, 'admin');
    const saved = authenticators.mastersCertificates;
    authenticators.mastersCertificates = undefined;
    try {
      expect(await send({ client: admin })).toMatchObject({ user: { groups: ['system:authenticated'] } });
    } finally {
      authenticators.mastersCertificates = saved;
    }
    const other = await issueCertificate(ca, { commonName: 'bob', organizations: ['dev'], usage: 'client' });
    expect(await send({ client: other })).toEqual({ user: { name: 'bob', uid: '', groups: ['dev', 'system:authenticated'] } });
  });

  it('sends JWT-shaped bearer tokens to the signed-token authenticator only, others to the token file', async () => {
    const token = authenticators.tokens.issue('static-user', ['g']);
    expect(await send({ token })).toMatchObject({ user: { name: 'static-user', groups: ['g', 'system:authenticated'] } });
    expect(await send({ token: 'a.b.c' })).toMatchObject({ user: { name: 'jwt-user' } });
    expect(await send({ token: 'x.y.z' })).toEqual({ error: 'invalid-token' });
    expect(await send({ token: 'nope' })).toEqual({ error: 'invalid-token' });
    expect(await send({})).toEqual({ error: 'no-credentials' });
  });
});
