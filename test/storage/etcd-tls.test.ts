// The etcd backend over TLS, against a real etcd that serves clients over TLS only and requires a client
// certificate (--client-cert-auth): the store conformance suite over that connection (unary calls and the
// raw watch streams of etcd-watch.ts share the client's credentials), `photon apiserver` with
// --etcd-cafile/--etcd-certfile/--etcd-keyfile, and clear refusals when the CA or client certificate is
// missing. Certificates come from the cluster PKI helpers (no openssl).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../apiserver/auth/pki.ts';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { describeStoreConformance } from './conformance.ts';
import { openEtcdStore, readEtcdTlsFiles, type EtcdTlsFiles } from '../../apiserver/storage/etcd.ts';
import type { Store } from '../../apiserver/storage/types.ts';
import { startApiServerProcess } from '../env/apiserver-process.ts';
import { startEtcd, type EtcdInstance, type EtcdTls } from '../env/etcd.ts';
import { freePort } from '../env/ports.ts';
import { startProcess, waitFor } from '../env/process.ts';

let directory: string;
let etcd: EtcdInstance;
/** What the API server is given: the etcd CA and a client certificate it signed. */
let files: Required<EtcdTlsFiles>;

beforeAll(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-etcd-tls-'));
  const ca = await createCertificateAuthority('etcd-ca');
  const server = await issueCertificate(ca, { commonName: 'etcd', hosts: ['127.0.0.1', 'localhost'], usage: 'server' });
  const client = await issueCertificate(ca, { commonName: 'photon-apiserver', usage: 'client' });
  const write = async (name: string, content: string) => {
    const file = path.join(directory, name);
    await fs.writeFile(file, content, { mode: 0o600 });
    return file;
  };
  const tls: EtcdTls = {
    caFile: await write('ca.crt', ca.certificatePem),
    certFile: await write('server.crt', server.certificatePem),
    keyFile: await write('server.key', server.keyPem),
    clientCertFile: await write('client.crt', client.certificatePem),
    clientKeyFile: await write('client.key', client.keyPem),
  };
  files = { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile };
  etcd = await startEtcd({ tls });
}, 60_000);

afterAll(async () => {
  await etcd?.stop();
  if (directory) await fs.rm(directory, { recursive: true, force: true });
});

describeStoreConformance('etcd over TLS with a client certificate', async () => {
  const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/tls-conformance', tls: readEtcdTlsFiles(files) });
  return {
    store,
    restart: async () => {
      await etcd.restart();
      await waitFor('the store to reach etcd again', () => store.currentRevision().then(() => true), { timeoutMs: 20_000, intervalMs: 50 });
      return store;
    },
    cleanup: () => store.close(),
  };
}, { skipProgressRace: 'a timing race of etcd 3.4.23 itself, run by test/storage/etcd-store.test.ts on plain etcd' });

describe('etcd TLS', () => {
  it('serves only TLS: the endpoint is https://, and a plain-text client is refused', async () => {
    expect(etcd.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await expect(openEtcdStore({ endpoints: [etcd.endpoint.replace('https://', 'http://')], dialTimeoutMs: 2000 })).rejects.toThrow();
  });

  it('refuses to connect without the CA that signed etcd, or without a client certificate, saying so', async () => {
    const withoutCa = openEtcdStore({ endpoints: [etcd.endpoint], dialTimeoutMs: 3000, tls: readEtcdTlsFiles({ certFile: files.certFile, keyFile: files.keyFile }) });
    await expect(withoutCa).rejects.toThrow(/etcd's serving certificate could not be verified.*--etcd-cafile/);
    const withoutClientCertificate = openEtcdStore({ endpoints: [etcd.endpoint], dialTimeoutMs: 3000, tls: readEtcdTlsFiles({ caFile: files.caFile }) });
    await expect(withoutClientCertificate).rejects.toThrow(/etcd refused this client's certificate.*--etcd-certfile and --etcd-keyfile/);
    expect(() => readEtcdTlsFiles({ caFile: path.join(directory, 'missing.crt') })).toThrow(`cannot read the etcd CA file ${path.join(directory, 'missing.crt')}`);
  });

  it('a watch opened over TLS sees writes made over TLS', async () => {
    const stores: Store[] = [];
    try {
      for (let index = 0; index < 2; index++) stores.push(await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/tls-watch', tls: readEtcdTlsFiles(files) }));
      const [watcher, writer] = stores;
      const seen: string[] = [];
      const handle = watcher.watch('/things/', await watcher.currentRevision(), { onEvents: (events) => seen.push(...events.map((event) => `${event.type} ${event.key}`)), onError: () => undefined });
      try {
        const created = await writer.create('/things/a', Buffer.from('1'));
        await writer.update('/things/a', Buffer.from('2'), created.modRevision);
        await waitFor('both events', () => seen.length >= 2, { timeoutMs: 10_000 });
        expect(seen).toEqual(['put /things/a', 'put /things/a']);
      } finally {
        handle.close();
      }
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('photon apiserver --etcd-cafile/--etcd-certfile/--etcd-keyfile serves from etcd over TLS: create, get, watch', async () => {
    const server = await startApiServerProcess({ etcdEndpoint: etcd.endpoint, args: ['--etcd-prefix', '/photon-tls', '--etcd-cafile', files.caFile, '--etcd-certfile', files.certFile, '--etcd-keyfile', files.keyFile] });
    try {
      const configMaps = '/api/v1/namespaces/default/configmaps';
      const watch = server.client.watch(`${configMaps}?watch=true`);
      try {
        const created = await server.client.request(configMaps, { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'over-tls' }, data: { a: 'b' } }) });
        expect(created.status).toBe(201);
        const got = await server.client.request(`${configMaps}/over-tls`);
        expect(got.status).toBe(200);
        expect(got.json().data).toEqual({ a: 'b' });
        await waitFor('the watch to see the ConfigMap', () => watch.events.some((event) => event.type === 'ADDED' && event.object.metadata.name === 'over-tls'), { timeoutMs: 15_000 });
      } finally {
        watch.close();
      }
    } finally {
      await server.stop();
    }
  });

  it('photon apiserver refuses to start without the etcd CA (exit 1, clear message) and refuses inconsistent flags (exit 2)', async () => {
    const home = await fs.mkdtemp(path.join(directory, 'home-'));
    const apiserver = (args: string[]) =>
      startProcess('photon-apiserver', process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'apiserver', 'main.ts'), '--home', home, ...args], {
        cwd: REPOSITORY_ROOT,
        env: { ...process.env, PHOTON_LOG_FORMAT: 'text' },
      });
    const port = String(await freePort());
    const noCa = apiserver(['--secure-port', port, '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-certfile', files.certFile, '--etcd-keyfile', files.keyFile]);
    expect(await noCa.exited).toBe(1);
    expect(noCa.output()).toContain("etcd's serving certificate could not be verified: give the CA that signed it (photon apiserver --etcd-cafile)");
    expect(noCa.output()).not.toContain('is serving');
    const refusals: Array<[string[], string]> = [
      [['--etcd-cafile', files.caFile], '--etcd-cafile needs --storage etcd'],
      [['--storage', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:2379', '--etcd-cafile', files.caFile], 'need https:// --etcd-endpoints'],
      [['--storage', 'etcd', '--etcd-endpoints', `${etcd.endpoint},http://127.0.0.1:2379`], 'must be all https:// or all http://'],
      [['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-certfile', files.certFile], '--etcd-certfile and --etcd-keyfile go together'],
    ];
    for (const [args, message] of refusals) {
      const refused = apiserver(args);
      expect(await refused.exited).toBe(2);
      expect(refused.output()).toContain(message);
    }
    const help = apiserver(['--help']);
    expect(await help.exited).toBe(0);
    for (const flag of ['--etcd-cafile FILE', '--etcd-certfile FILE', '--etcd-keyfile FILE']) expect(help.output()).toContain(flag);
  }, 120_000);
});
