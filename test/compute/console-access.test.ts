// The console subresource's edges that console.test.ts does not cover, against the real API server and a real
// agent endpoint (agents/node/agent-server.ts) without QEMU:
//  - who may read it: the default roles (view, edit, admin: view has it, as Kubernetes' view has pods/log), not
//    a node's own credential even for a VM bound to it (node-authorizer.ts), not an admin certificate presented
//    to the agent directly (the agent takes only the API server's agent client certificate);
//  - bounded parameters answered with a Status naming the parameter (tailLines, limitBytes, follow);
//  - a follow ends when the VM leaves the node, and the agent stops serving a follow once the client goes.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { issueCertificate } from '../../apiserver/auth/pki.ts';
import { ensureServingCertificate, startAgentServer, type AgentServer } from '../../agents/node/agent-server.ts';
import { run } from '../../agents/ovn-local/commands.ts';
import { clientFromKubeconfig, loadKubeconfig, NamespaceResource, type ApiClient, type ClusterConnection } from '../../apis/client/index.ts';
import { NodeResource, VirtualMachineResource } from '../../apis/compute/v1alpha1/index.ts';
import { createLogger } from '../../lib/logging.ts';
import { runKubectl, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';
import { PHOTON_CLI } from '../env/tenants.ts';

const NS = 'console-access';
let api: TestApiServer;
let admin: ApiClient;
let adminConnection: ClusterConnection;
let agent: AgentServer;
let dir: string;
/** (namespace/name) → console file: what the agent serves; a test removes an entry to move a VM off the node. */
const files = new Map<string, string>();
/** How often the agent asked for each VM's file: a follow asks on every poll, so this shows a follow alive. */
const lookups = new Map<string, number>();

const consolePath = (name: string, query = '') => `/apis/compute.photoncloud.io/v1alpha1/namespaces/${NS}/virtualmachines/${name}/console${query}`;

/** GET through the API server with the admin's credential: the status code and the body. */
function rawGet(connection: ClusterConnection, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(connection.server + target);
    const request = https.get(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, ca: connection.caPem, headers: { authorization: `Bearer ${connection.token}` }, agent: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.setTimeout(15_000, () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

async function createVm(name: string, nodeName: string, contents: string): Promise<string> {
  await admin.create(VirtualMachineResource, { apiVersion: VirtualMachineResource.apiVersion, kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec: { memory: '64Mi', boot: { kernel: { imageRef: 'k' } } } });
  await admin.patch(VirtualMachineResource, name, { status: { nodeName } }, { namespace: NS, subresource: 'status' });
  const file = path.join(dir, `${name}.log`);
  await fs.writeFile(file, contents);
  files.set(`${NS}/${name}`, file);
  return file;
}

async function issueKubeconfig(kind: 'user' | 'node', name: string): Promise<string> {
  const issued = await run(process.execPath, ['--import', 'tsx', PHOTON_CLI, 'kubeconfig', kind, name, '--home', api.home, '--server', api.url], { timeoutMs: 60_000 });
  if (issued.code !== 0) throw new Error(`photon kubeconfig ${kind} ${name} failed (${issued.code}): ${issued.stderr}`);
  const kubeconfig = path.join(await fs.mkdtemp(path.join(dir, `${kind}-`)), 'config');
  await fs.writeFile(kubeconfig, issued.stdout, { mode: 0o600 });
  return kubeconfig;
}

beforeAll(async () => {
  api = await startTestApiServer({ storage: 'embedded' });
  admin = clientFromKubeconfig(api.kubeconfig, { component: 'console-access-test' });
  adminConnection = loadKubeconfig(api.kubeconfig);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-console-access-'));
  const serving = await ensureServingCertificate(path.join(dir, 'agent'), 'hv-1', ['127.0.0.1']);
  const ca = await fs.readFile(path.join(api.home, 'pki', 'ca.crt'), 'utf8');
  agent = await startAgentServer({
    host: '127.0.0.1',
    port: 0,
    tls: serving,
    clientCaPem: ca,
    consoleFile: (namespace, name) => {
      const key = `${namespace}/${name}`;
      lookups.set(key, (lookups.get(key) ?? 0) + 1);
      return files.get(key);
    },
    log: createLogger('agent-server-test'),
  });
  await admin.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await admin.create(NodeResource, { apiVersion: NodeResource.apiVersion, kind: 'Node', metadata: { name: 'hv-1' }, spec: {} });
  const node = await admin.get(NodeResource, 'hv-1');
  await admin.updateStatus(NodeResource, { ...node, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { agentEndpoint: { port: agent.port, certificateSha256: serving.sha256 } } } });
  await createVm('web', 'hv-1', 'boot\nlogin:\n');
}, 60_000);

afterAll(async () => {
  await agent?.close();
  admin?.close();
  await api?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('VirtualMachine console: access', () => {
  test('view, edit and admin read it; a user bound to none does not', async () => {
    for (const role of ['view', 'edit', 'admin']) {
      const user = `${role}-user`;
      const bind = await api.kubectl(['create', 'rolebinding', `${role}-console`, '-n', NS, `--clusterrole=${role}`, `--user=${user}`]);
      expect(bind.stderr).toBe('');
      // The aggregated roles are filled by the API server's aggregation loop: wait for the rule to arrive.
      await waitFor(`${role} may read consoles`, async () => (await api.kubectl(['auth', 'can-i', 'get', 'virtualmachines/console', '-n', NS, '--as', user])).stdout.trim() === 'yes', { timeoutMs: 15_000, intervalMs: 100 });
      const read = await api.kubectl(['get', '--raw', consolePath('web'), '--as', user]);
      expect(read.stdout).toBe('boot\nlogin:\n');
    }
    expect((await api.kubectl(['auth', 'can-i', 'get', 'virtualmachines/console', '-n', NS, '--as', 'nobody'])).stdout.trim()).toBe('no');
  });

  test("a node's credential reads its VM but not the VM's console", async () => {
    const kubeconfig = await issueKubeconfig('node', 'hv-1');
    const vm = await runKubectl(kubeconfig, ['get', 'virtualmachine', 'web', '-n', NS, '-o', 'name']);
    expect(vm.stdout.trim()).toBe('virtualmachine.compute.photoncloud.io/web');
    const denied = await runKubectl(kubeconfig, ['get', '--raw', consolePath('web')]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/forbidden/i);
    expect(denied.stdout).toBe('');
  });

  test('the agent takes the API server’s agent client certificate and no other of the cluster CA (an admin’s)', async () => {
    const pki = path.join(api.home, 'pki');
    const ca = { certificatePem: await fs.readFile(path.join(pki, 'ca.crt'), 'utf8'), keyPem: await fs.readFile(path.join(pki, 'ca.key'), 'utf8') };
    const masters = await issueCertificate(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' });
    const apiserverClient = { certificatePem: await fs.readFile(path.join(pki, 'agent-client.crt'), 'utf8'), keyPem: await fs.readFile(path.join(pki, 'agent-client.key'), 'utf8') };
    const direct = (client: { certificatePem: string; keyPem: string }) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = https.get({ host: '127.0.0.1', port: agent.port, path: `/console/${NS}/web`, cert: client.certificatePem, key: client.keyPem, rejectUnauthorized: false, agent: false }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on('error', reject);
      });
    const refused = await direct(masters);
    expect(refused.status).toBe(403);
    expect(refused.body).not.toContain('login:');
    expect(await direct(apiserverClient)).toEqual({ status: 200, body: 'boot\nlogin:\n' });
  });

  test('parameters are bounded and a bad one is a 400 Status naming it', async () => {
    for (const [query, parameter] of [
      ['?tailLines=100001', 'tailLines'],
      ['?tailLines=x', 'tailLines'],
      ['?limitBytes=0', 'limitBytes'],
      ['?limitBytes=-5', 'limitBytes'],
      ['?follow=maybe', 'follow'],
    ] as const) {
      const { status, body } = await rawGet(adminConnection, consolePath('web', query));
      expect({ query, status }).toEqual({ query, status: 400 });
      const parsed = JSON.parse(body) as { kind: string; code: number; reason: string; message: string };
      expect(parsed).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest' });
      expect(parsed.message).toContain(parameter);
    }
    expect(await rawGet(adminConnection, consolePath('web', '?tailLines=100000&limitBytes=3'))).toEqual({ status: 200, body: 'boo' });
  });

  test('a follow ends when the VM leaves the node', async () => {
    const file = await createVm('leaving', 'hv-1', 'up\n');
    const child = spawn('kubectl', ['--kubeconfig', api.kubeconfig, 'get', '--raw', consolePath('leaving', '?follow=true')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let exited: number | null | undefined;
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => (exited = code));
    try {
      await waitFor('the console so far', () => output === 'up\n', { timeoutMs: 10_000, intervalMs: 50 });
      await fs.appendFile(file, 'going\n');
      await waitFor('the appended line', () => output === 'up\ngoing\n', { timeoutMs: 10_000, intervalMs: 50 });
      files.delete(`${NS}/leaving`); // the agent no longer runs it
      await waitFor('kubectl to finish', () => exited !== undefined, { timeoutMs: 10_000, intervalMs: 50 });
      expect(exited).toBe(0);
    } finally {
      child.kill();
    }
  });

  test('the agent stops serving a follow once the client goes', async () => {
    await createVm('watched', 'hv-1', 'hello\n');
    const key = `${NS}/watched`;
    const child = spawn('kubectl', ['--kubeconfig', api.kubeconfig, 'get', '--raw', consolePath('watched', '?follow=true')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await waitFor('the console', () => output === 'hello\n', { timeoutMs: 10_000, intervalMs: 50 });
    // The follow is alive: the agent keeps asking whether the VM is still here.
    const before = lookups.get(key) ?? 0;
    await waitFor('the follow to poll', () => (lookups.get(key) ?? 0) > before + 2, { timeoutMs: 10_000, intervalMs: 50 });
    child.kill();
    await exited;
    // Then it stops: the count settles (unchanged across more than two of the agent's poll intervals).
    let last = -1;
    let stableSince = Date.now();
    await waitFor(
      'the follow to end at the agent',
      () => {
        const now = lookups.get(key) ?? 0;
        if (now !== last) {
          last = now;
          stableSince = Date.now();
          return false;
        }
        return Date.now() - stableSince > 700;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  });
});
