// The `photon` command as an operator runs it (`npm start` runs `photon all-in-one`): first start creates
// PKI, token and kubeconfig; a restart keeps them and the data; bad flags and a busy port fail clearly.
// Also: client-certificate authentication against the cluster CA, and /metrics.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../apiserver/auth/pki.ts';
import { renderKubeconfig } from '../../apiserver/auth/kubeconfig.ts';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { runKubectl } from '../env/apiserver.ts';
import { startProcess, waitFor, type ManagedProcess } from '../env/process.ts';
import { freePort, freePorts } from '../env/ports.ts';

const PHOTON = path.join(REPOSITORY_ROOT, 'cli', 'photon.ts');

function photon(args: string[], home: string): ManagedProcess {
  return startProcess('photon', process.execPath, ['--import', 'tsx', PHOTON, ...args], {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, PHOTON_HOME: home, PHOTON_LOG_FORMAT: 'text', PHOTON_LOG_LEVEL: 'info' },
  });
}

describe('photon command', () => {
  let home: string;
  let port: number;

  beforeAll(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-startup-'));
    port = await freePort();
  });
  afterAll(async () => {
    await fs.rm(home, { recursive: true, force: true });
  });

  const kubeconfig = () => path.join(home, 'admin.kubeconfig');
  const waitServing = (process: ManagedProcess) =>
    waitFor('the server to serve', () => {
      if (process.child.exitCode !== null) throw new Error(`photon exited early:\n${process.output()}`);
      return process.output().includes('is serving');
    }, { timeoutMs: 60_000 });

  it('starts all-in-one on embedded defaults, writes a working admin kubeconfig, and stops on SIGTERM', async () => {
    // Free OVN and DNS ports: the all-in-one refuses taken ones (the defaults, 6641/6642 and 10053, may be in use
    // on this machine — by another test file's all-in-one, too).
    const [nbPort, sbPort, dnsPort] = (await freePorts(4)).filter((candidate) => candidate !== port);
    const server = photon(['all-in-one', '--secure-port', String(port), '--ovn-nb-port', String(nbPort), '--ovn-sb-port', String(sbPort), '--dns-port', String(dnsPort)], home);
    try {
      await waitServing(server);
      for (const file of ['admin.kubeconfig', 'tokens.json', 'pki/ca.crt', 'pki/ca.key', 'pki/apiserver.crt', 'pki/apiserver.key', 'data/photon.db']) {
        await expect(fs.stat(path.join(home, file))).resolves.toBeDefined();
      }
      expect((await fs.stat(path.join(home, 'pki/ca.key'))).mode & 0o077).toBe(0);
      expect((await fs.stat(kubeconfig())).mode & 0o077).toBe(0);
      const tokens = await fs.readFile(path.join(home, 'tokens.json'), 'utf8');
      const token = /token:\s*(\S+)/.exec(await fs.readFile(kubeconfig(), 'utf8'))![1];
      expect(tokens).not.toContain(token); // only the hash is kept on disk
      const photonKinds = await runKubectl(kubeconfig(), ['get', 'photon', '-A']);
      expect(photonKinds).toMatchObject({ code: 0 });
      expect(photonKinds.stderr).toContain('No resources found');
      expect((await runKubectl(kubeconfig(), ['create', 'namespace', 'survives'])).code).toBe(0);
      // The all-in-one also runs the controller manager, with its own credential: its garbage collector
      // removes a dependent whose owner is deleted.
      await expect(fs.stat(path.join(home, 'controller-manager.kubeconfig'))).resolves.toBeDefined();
      const owner = JSON.parse((await runKubectl(kubeconfig(), ['create', '-o', 'json', '-f', '-'], { stdin: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: 'survives' } }) })).stdout);
      const dependent = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dependent', namespace: 'survives', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid }] } };
      expect((await runKubectl(kubeconfig(), ['create', '-f', '-'], { stdin: JSON.stringify(dependent) })).code).toBe(0);
      expect((await runKubectl(kubeconfig(), ['delete', 'configmap', 'owner', '-n', 'survives'])).code).toBe(0);
      await waitFor('the garbage collector to remove the dependent', async () => (await runKubectl(kubeconfig(), ['get', 'configmap', 'dependent', '-n', 'survives'])).code !== 0, { timeoutMs: 60_000, intervalMs: 500 });
      expect(server.output()).toContain('controllers started');
      // With OVN installed, the all-in-one runs a local OVN central and the network controllers program it.
      const vpc = { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: 'survives' }, spec: { cidrBlocks: ['10.0.0.0/16'] } };
      expect((await runKubectl(kubeconfig(), ['apply', '-f', '-'], { stdin: JSON.stringify(vpc) })).code).toBe(0);
      const waited = await runKubectl(kubeconfig(), ['wait', 'vpc/main', '-n', 'survives', '--for=condition=Ready', '--timeout=60s']);
      expect(waited).toMatchObject({ code: 0 });
      await expect(fs.stat(path.join(home, 'ovn', 'nb.sock'))).resolves.toBeDefined();
    } finally {
      // The grace before the harness's SIGKILL, not an assertion about speed: the all-in-one's six components (OVN, DNS, Ceph,
      // API server, controller manager, node agent) stop in parallel, ~1 s alone, but a loaded CI machine has
      // taken over the default 5 s. What this test asserts is that the stop is clean (exit 0).
      await server.stop(30_000);
    }
    if (server.child.exitCode !== 0) throw new Error(`all-in-one exit ${server.child.exitCode} (${server.child.signalCode}):\n${server.output().slice(-4000)}`);
  }, 180_000);

  it('restarts with the same CA, token and data', async () => {
    const caBefore = await fs.readFile(path.join(home, 'pki/ca.crt'), 'utf8');
    const kubeconfigBefore = await fs.readFile(kubeconfig(), 'utf8');
    const server = photon(['apiserver', '--secure-port', String(port)], home);
    try {
      await waitServing(server);
      expect(await fs.readFile(path.join(home, 'pki/ca.crt'), 'utf8')).toBe(caBefore);
      expect(await fs.readFile(kubeconfig(), 'utf8')).toBe(kubeconfigBefore);
      const namespaces = await runKubectl(kubeconfig(), ['get', 'namespace', 'survives', '-o', 'name']);
      expect(namespaces.stdout.trim()).toBe('namespace/survives');
    } finally {
      await server.stop();
    }
  });

  it('refuses to start (exit 1, naming the file and its mode) when a key or token file is readable by others', async () => {
    for (const file of ['pki/ca.key', 'pki/apiserver.key', 'tokens.json', 'admin.kubeconfig']) {
      const full = path.join(home, file);
      await fs.chmod(full, 0o644);
      try {
        const refused = photon(['apiserver', '--secure-port', String(port)], home);
        expect(await refused.exited).toBe(1);
        expect(refused.output()).toContain(`credential file ${full} has mode 0644`);
        expect(refused.output()).not.toContain('is serving');
      } finally {
        await fs.chmod(full, 0o600);
      }
    }
  });

  it('refuses bad flags with usage (exit 2) and a busy port with a clear message (exit 1)', async () => {
    const bogus = photon(['apiserver', '--storage', 'bogus'], home);
    expect(await bogus.exited).toBe(2);
    expect(bogus.output()).toContain('--storage must be embedded or etcd');
    const noEndpoints = photon(['apiserver', '--storage', 'etcd'], home);
    expect(await noEndpoints.exited).toBe(2);
    expect(noEndpoints.output()).toContain('--storage etcd needs --etcd-endpoints');
    const unknown = photon(['frobnicate'], home);
    expect(await unknown.exited).toBe(2);
    expect(unknown.output()).toContain('unknown command "frobnicate"');
    const negativeTtl = photon(['apiserver', '--event-ttl=-5'], home);
    expect(await negativeTtl.exited).toBe(2);
    expect(negativeTtl.output()).toContain('--event-ttl must be a whole number of seconds');
    const noStreams = photon(['apiserver', '--http2-max-streams-per-connection', '0'], home);
    expect(await noStreams.exited).toBe(2);
    expect(noStreams.output()).toContain('--http2-max-streams-per-connection must be a whole number of at least 1');
    // The controller manager refuses what its OVSDB client could never connect to, instead of retrying forever.
    const badNorthbound = photon(['controller-manager', '--ovn-nb', 'udp:10.0.0.1:6641'], home);
    expect(await badNorthbound.exited).toBe(2);
    expect(badNorthbound.output()).toContain('--ovn-nb must be unix:/path, tcp:host:port or ssl:host:port');
    const tlsNorthbound = photon(['controller-manager', '--ovn-nb', 'ssl:10.0.0.1:6641'], home);
    expect(await tlsNorthbound.exited).toBe(2);
    expect(tlsNorthbound.output()).toContain('an ssl: --ovn-nb endpoint needs --ovn-nb-cacert, --ovn-nb-cert and --ovn-nb-key');
    const unknownController = photon(['controller-manager', '--controllers', 'vpc,frobnicator'], home);
    expect(await unknownController.exited).toBe(2);
    expect(unknownController.output()).toContain('--controllers: unknown controller "frobnicator"');
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    try {
      const busy = photon(['apiserver', '--secure-port', String(port)], home);
      // EX_CONFIG: restarting would fail the same way (supervisors and the systemd unit do not restart on it).
      expect(await busy.exited).toBe(78);
      expect(busy.output()).toContain('address is already in use');
      expect(busy.output()).toContain('--secure-port');
    } finally {
      blocker.close();
    }
  });

  it('authenticates client certificates signed by the cluster CA, and only those', async () => {
    const server = photon(['apiserver', '--secure-port', String(port)], home);
    try {
      await waitServing(server);
      const ca = { certificatePem: await fs.readFile(path.join(home, 'pki/ca.crt'), 'utf8'), keyPem: await fs.readFile(path.join(home, 'pki/ca.key'), 'utf8') };
      const signed = await issueCertificate(ca, { commonName: 'operator', organizations: ['ops'], usage: 'client' });
      const certConfig = path.join(home, 'cert.kubeconfig');
      const url = `https://127.0.0.1:${port}`;
      await fs.writeFile(certConfig, renderKubeconfig({ server: url, caCertificatePem: ca.certificatePem, user: 'operator', clientCertificatePem: signed.certificatePem, clientKeyPem: signed.keyPem }));
      // Authenticated as operator in group ops (403, not 401), and authorized once RBAC grants the group.
      const unbound = await runKubectl(certConfig, ['get', 'namespaces', '-o', 'name']);
      expect(unbound.stderr).toContain('namespaces is forbidden: User "operator" cannot list resource "namespaces" in API group "" at the cluster scope');
      const bound = await runKubectl(kubeconfig(), ['create', 'clusterrolebinding', 'ops-admin', '--clusterrole', 'cluster-admin', '--group', 'ops']);
      expect(bound.code).toBe(0);
      await waitFor('the ops group to be bound', async () => (await runKubectl(certConfig, ['get', 'namespaces', '-o', 'name'])).stdout.includes('namespace/default'));
      const foreignCa = await createCertificateAuthority('someone-else');
      const foreign = await issueCertificate(foreignCa, { commonName: 'intruder', usage: 'client' });
      const foreignConfig = path.join(home, 'foreign.kubeconfig');
      await fs.writeFile(foreignConfig, renderKubeconfig({ server: url, caCertificatePem: ca.certificatePem, user: 'intruder', clientCertificatePem: foreign.certificatePem, clientKeyPem: foreign.keyPem }));
      const refused = await runKubectl(foreignConfig, ['get', 'namespaces']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('Unauthorized');
      const metrics = await runKubectl(kubeconfig(), ['get', '--raw', '/metrics']);
      expect(metrics.stdout).toMatch(/apiserver_request_total\{verb="LIST",group="",resource="namespaces",subresource="",code="200"\} \d+/);
      expect(metrics.stdout).toContain('apiserver_storage_request_duration_seconds_bucket');
      expect(metrics.stdout).toContain('apiserver_longrunning_requests');
    } finally {
      await server.stop();
    }
  });
});
