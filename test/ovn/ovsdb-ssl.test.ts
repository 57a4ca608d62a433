// OVSDB over SSL: the client and the controller manager against a real OVN_Northbound ovsdb-server listening
// on pssl: (test/env/ovn.ts startTlsNorthbound), with certificates from the cluster PKI helpers (no openssl).
// Shown: ssl:HOST:PORT endpoints connect, monitor and transact; a client certificate from another CA, a server
// certificate from another CA and missing files are refused with clear errors; `photon controller-manager
// --ovn-nb ssl:… --ovn-nb-cacert/--ovn-nb-cert/--ovn-nb-key` programs OVN over that connection.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectNorthbound } from '../../agents/ovn-nb/index.ts';
import { OvsdbClient, OvsdbConnectionError, OvsdbError, op, type OvsdbTlsFiles } from '../../agents/ovsdb/index.ts';
import { createCertificateAuthority, issueCertificate } from '../../apiserver/auth/pki.ts';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';
import { startTlsNorthbound, type TlsNorthbound } from '../env/ovn.ts';
import { startProcess, waitFor, WaitAborted } from '../env/process.ts';

let directory: string;
let northbound: TlsNorthbound;
/** A client certificate the server's CA signed, and that CA: what the controller manager is given. */
let good: OvsdbTlsFiles;
/** A client certificate from an unrelated CA (the server must refuse it). */
let foreignClient: OvsdbTlsFiles;
/** The right client certificate, but trusting an unrelated CA (this side must refuse the server). */
let wrongCa: OvsdbTlsFiles;

beforeAll(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-ovsdb-ssl-'));
  const write = async (name: string, content: string) => {
    const file = path.join(directory, name);
    await fs.writeFile(file, content, { mode: 0o600 });
    return file;
  };
  const ca = await createCertificateAuthority('ovn-ca');
  const other = await createCertificateAuthority('someone-else');
  const server = await issueCertificate(ca, { commonName: 'ovnnb', usage: 'server' });
  const client = await issueCertificate(ca, { commonName: 'photon-controller-manager', usage: 'client' });
  const foreign = await issueCertificate(other, { commonName: 'intruder', usage: 'client' });
  const caFile = await write('ca.crt', ca.certificatePem);
  good = { caCertFile: caFile, certFile: await write('client.crt', client.certificatePem), keyFile: await write('client.key', client.keyPem) };
  foreignClient = { caCertFile: caFile, certFile: await write('foreign.crt', foreign.certificatePem), keyFile: await write('foreign.key', foreign.keyPem) };
  wrongCa = { ...good, caCertFile: await write('other-ca.crt', other.certificatePem) };
  northbound = await startTlsNorthbound({ caCertFile: caFile, certFile: await write('server.crt', server.certificatePem), keyFile: await write('server.key', server.keyPem) }, good);
}, 60_000);

afterAll(async () => {
  await northbound?.stop();
  if (directory) await fs.rm(directory, { recursive: true, force: true });
});

describe('OVSDB over SSL', () => {
  it('connects to ssl:HOST:PORT, loads the snapshot and transacts; the server sees the write', async () => {
    const nb = await connectNorthbound({ endpoint: northbound.sslEndpoint, tls: good, connectTimeoutMs: 10_000 });
    try {
      expect(nb.connected).toBe(true);
      await nb.transact([op.insert('Logical_Switch', { name: 'over-ssl' })]);
      expect([...nb.rows('Logical_Switch').values()].map((row) => row.name)).toContain('over-ssl');
      expect(await northbound.nbctl('--bare', '--columns=name', 'list', 'Logical_Switch')).toContain('over-ssl');
      // A change made elsewhere (over the unix socket) reaches the replica over the SSL monitor.
      await northbound.nbctl('ls-add', 'from-nbctl');
      await waitFor('the monitor update', () => [...nb.rows('Logical_Switch').values()].some((row) => row.name === 'from-nbctl'), { timeoutMs: 10_000 });
    } finally {
      await nb.close();
    }
  });

  it('refuses a server whose certificate is not from the given CA, and is refused with a certificate from another CA', async () => {
    const untrustedServer = OvsdbClient.connect({ endpoint: northbound.sslEndpoint, database: 'OVN_Northbound', tls: wrongCa, connectTimeoutMs: 2000 });
    await expect(untrustedServer).rejects.toThrow(OvsdbConnectionError);
    await expect(untrustedServer).rejects.toThrow(/certificate/i);
    const foreign = OvsdbClient.connect({ endpoint: northbound.sslEndpoint, database: 'OVN_Northbound', tls: foreignClient, connectTimeoutMs: 2000 });
    await expect(foreign).rejects.toThrow(OvsdbConnectionError);
  });

  it('names the refusal, not the timeout of a later attempt the deadline cut short', async () => {
    // The first connection is dropped during the handshake; later ones hang until the deadline. The error must
    // say what went wrong (the drop), not only that time ran out.
    let accepted = 0;
    const held = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      if (accepted++ === 0) socket.destroy();
      else held.add(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      const attempt = OvsdbClient.connect({ endpoint: `ssl:127.0.0.1:${port}`, database: 'OVN_Northbound', tls: good, connectTimeoutMs: 1000 });
      const error = await attempt.then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(OvsdbConnectionError);
      expect(accepted).toBeGreaterThanOrEqual(2);
      expect((error as Error).message).toMatch(/within 1000 ms: .*(disconnected|ECONNRESET|socket hang up)/i);
      expect((error as Error).message).not.toMatch(/timed out after/);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses ssl: without credentials, and names a TLS file it cannot read', async () => {
    await expect(OvsdbClient.connect({ endpoint: northbound.sslEndpoint, database: 'OVN_Northbound' })).rejects.toThrow('ssl: endpoints need a CA certificate, a certificate and a private key');
    const missing = path.join(directory, 'missing.key');
    const attempt = OvsdbClient.connect({ endpoint: northbound.sslEndpoint, database: 'OVN_Northbound', tls: { ...good, keyFile: missing }, connectTimeoutMs: 2000 });
    await expect(attempt).rejects.toThrow(OvsdbError);
    await expect(attempt).rejects.toThrow(`cannot read the OVSDB private key ${missing}`);
  });

  describe('photon controller-manager --ovn-nb ssl:…', () => {
    let api: ApiServerProcess;
    beforeAll(async () => {
      api = await startApiServerProcess();
    }, 90_000);
    afterAll(async () => {
      await api?.stop();
    });

    const controllerManager = (args: string[]) =>
      startProcess('photon controller-manager', process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'controllers', 'main.ts'), '--home', api.home, '--metrics-address', '', ...args], {
        cwd: REPOSITORY_ROOT,
        env: { ...process.env, PHOTON_LOG_FORMAT: 'text', PHOTON_LOG_LEVEL: 'info' },
      });

    it('programs OVN over SSL with --ovn-nb-cacert/--ovn-nb-cert/--ovn-nb-key', async () => {
      const manager = controllerManager(['--controllers', 'vpc', '--leader-elect', 'false', '--ovn-nb', northbound.sslEndpoint, '--ovn-nb-cacert', good.caCertFile, '--ovn-nb-cert', good.certFile, '--ovn-nb-key', good.keyFile]);
      try {
        const vpc = { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'ssl', namespace: 'default' }, spec: { cidrBlocks: ['10.9.0.0/16'] } };
        const created = await api.client.request('/apis/network.photoncloud.io/v1alpha1/namespaces/default/vpcs', { method: 'POST', body: JSON.stringify(vpc) });
        expect(created.status).toBe(201);
        await waitFor('the Vpc to be Ready', async () => {
          if (manager.child.exitCode !== null) throw new WaitAborted(`the controller manager exited:\n${manager.output()}`);
          const current = (await api.client.request('/apis/network.photoncloud.io/v1alpha1/namespaces/default/vpcs/ssl')).json();
          return current.status?.conditions?.some((condition: { type: string; status: string }) => condition.type === 'Ready' && condition.status === 'True');
        }, { timeoutMs: 60_000, intervalMs: 250 });
        expect(await northbound.nbctl('--bare', '--columns=external_ids', 'list', 'Logical_Router')).toContain(created.json().metadata.uid);
        expect(manager.output()).toContain('connected to the OVN northbound database');
      } finally {
        await manager.stop();
      }
    }, 120_000);

    it('refuses an ssl: endpoint without the three files, and the files without an ssl: endpoint (usage, exit 2)', async () => {
      const cases: Array<[string[], string]> = [
        [['--ovn-nb', northbound.sslEndpoint], 'an ssl: --ovn-nb endpoint needs --ovn-nb-cacert, --ovn-nb-cert and --ovn-nb-key'],
        [['--ovn-nb', northbound.sslEndpoint, '--ovn-nb-cacert', good.caCertFile, '--ovn-nb-cert', good.certFile], 'an ssl: --ovn-nb endpoint needs --ovn-nb-cacert, --ovn-nb-cert and --ovn-nb-key'],
        [['--ovn-nb', 'tcp:127.0.0.1:6641', '--ovn-nb-cacert', good.caCertFile], '--ovn-nb-cacert, --ovn-nb-cert and --ovn-nb-key need an ssl: --ovn-nb endpoint'],
      ];
      for (const [args, message] of cases) {
        const refused = controllerManager(args);
        expect(await refused.exited).toBe(2);
        expect(refused.output()).toContain(message);
      }
      const help = controllerManager(['--help']);
      expect(await help.exited).toBe(0);
      for (const flag of ['--ovn-nb-cacert FILE', '--ovn-nb-cert FILE', '--ovn-nb-key FILE', 'ssl:host:port']) expect(help.output()).toContain(flag);
    }, 120_000);
  });
});
