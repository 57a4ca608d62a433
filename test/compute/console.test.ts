// The console subresource between the real API server and a node agent's endpoint (agents/node/agent-server.ts),
// without QEMU: the console file is written by the test. Through the real kubectl: the text, tailLines,
// limitBytes, a follow that streams what is appended, who may read it, and every way the path can fail with a
// clear Status instead of a hang: no node yet, a node whose agent is unreachable, an agent presenting another
// certificate than the one its Node publishes, and a client that is not the API server at the agent.
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ensureServingCertificate, startAgentServer, type AgentServer } from '../../agents/node/agent-server.ts';
import { clientFromKubeconfig, NamespaceResource, type ApiClient } from '../../apis/client/index.ts';
import { NodeResource, VirtualMachineResource } from '../../apis/compute/v1alpha1/index.ts';
import { createLogger } from '../../lib/logging.ts';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { freePort } from '../env/ports.ts';
import { waitFor } from '../env/process.ts';

const NS = 'consoles';
let api: TestApiServer;
let client: ApiClient;
let agent: AgentServer;
let dir: string;
let consoleFile: string;
let sha256: string;

const consolePath = (name: string, query = '') => `/apis/compute.photoncloud.io/v1alpha1/namespaces/${NS}/virtualmachines/${name}/console${query}`;

async function publishNode(name: string, port: number, certificateSha256: string): Promise<void> {
  await client.create(NodeResource, { apiVersion: NodeResource.apiVersion, kind: 'Node', metadata: { name }, spec: {} }).catch(() => undefined);
  const node = await client.get(NodeResource, name);
  await client.updateStatus(NodeResource, { ...node, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { agentEndpoint: { port, certificateSha256 } } } });
}

async function vmOn(name: string, nodeName?: string): Promise<void> {
  await client.create(VirtualMachineResource, { apiVersion: VirtualMachineResource.apiVersion, kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec: { memory: '64Mi', boot: { kernel: { imageRef: 'k' } } } });
  if (nodeName) await client.patch(VirtualMachineResource, name, { status: { nodeName } }, { namespace: NS, subresource: 'status' });
}

beforeAll(async () => {
  api = await startTestApiServer({ storage: 'embedded' });
  client = clientFromKubeconfig(api.kubeconfig, { component: 'console-test' });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-console-'));
  consoleFile = path.join(dir, 'console.log');
  await fs.writeFile(consoleFile, 'line 1\nline 2\nline 3\n');
  const serving = await ensureServingCertificate(dir, 'hv-1', ['127.0.0.1']);
  sha256 = serving.sha256;
  const ca = await fs.readFile(path.join(api.home, 'pki', 'ca.crt'), 'utf8');
  agent = await startAgentServer({ host: '127.0.0.1', port: 0, tls: serving, clientCaPem: ca, consoleFile: (namespace, name) => (namespace === NS && name === 'web' ? consoleFile : undefined), log: createLogger('agent-server-test') });
  await client.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await publishNode('hv-1', agent.port, sha256);
  await vmOn('web', 'hv-1');
}, 60_000);

afterAll(async () => {
  await agent?.close();
  client?.close();
  await api?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('VirtualMachine console', () => {
  test('kubectl reads it whole, its tail, or its first bytes', async () => {
    expect((await api.kubectl(['get', '--raw', consolePath('web')])).stdout).toBe('line 1\nline 2\nline 3\n');
    expect((await api.kubectl(['get', '--raw', consolePath('web', '?tailLines=2')])).stdout).toBe('line 2\nline 3\n');
    expect((await api.kubectl(['get', '--raw', consolePath('web', '?tailLines=0')])).stdout).toBe('');
    expect((await api.kubectl(['get', '--raw', consolePath('web', '?limitBytes=4')])).stdout).toBe('line');
    const bad = await api.kubectl(['get', '--raw', consolePath('web', '?tailLines=-1')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/tailLines/);
  });

  test('follow streams what the guest prints next', async () => {
    const child = spawn('kubectl', ['--kubeconfig', api.kubeconfig, 'get', '--raw', consolePath('web', '?follow=true&tailLines=1')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor('the tail', () => output === 'line 3\n', { timeoutMs: 10_000, intervalMs: 50 });
      await fs.appendFile(consoleFile, 'photon-guest: ip=10.0.0.7\n');
      await waitFor('the appended line', () => output.endsWith('photon-guest: ip=10.0.0.7\n'), { timeoutMs: 10_000, intervalMs: 50 });
    } finally {
      child.kill();
    }
  });

  test('reading it is authorized like any subresource; discovery lists it', async () => {
    const denied = await api.kubectl(['get', '--raw', consolePath('web'), '--as', 'mallory']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/forbidden|Forbidden/);
    expect(denied.stderr).toContain('virtualmachines/console');
    const resources = JSON.parse((await api.kubectl(['get', '--raw', '/apis/compute.photoncloud.io/v1alpha1'])).stdout) as { resources: Array<{ name: string; verbs: string[] }> };
    expect(resources.resources.find((resource) => resource.name === 'virtualmachines/console')?.verbs).toEqual(['get']);
  });

  test('clear errors: no node yet, unknown VM, unreachable agent, an impostor agent', async () => {
    await vmOn('pending');
    const pending = await api.kubectl(['get', '--raw', consolePath('pending')]);
    expect(pending.stderr).toMatch(/not scheduled to a node/);
    expect((await api.kubectl(['get', '--raw', consolePath('nope')])).stderr).toMatch(/NotFound|not found/);

    await publishNode('hv-gone', await freePort(), sha256);
    await vmOn('orphan', 'hv-gone');
    const unreachable = await api.kubectl(['get', '--raw', consolePath('orphan')]);
    expect(unreachable.stderr).toMatch(/cannot reach the agent of node hv-gone/);

    // A node whose published fingerprint is not what the endpoint presents: refused, not trusted.
    await publishNode('hv-impostor', agent.port, 'f'.repeat(64));
    await vmOn('spoofed', 'hv-impostor');
    const spoofed = await api.kubectl(['get', '--raw', consolePath('spoofed')]);
    expect(spoofed.stderr).toMatch(/presented a certificate other than the one its Node publishes/);
  });

  test('the agent endpoint refuses anyone but the API server', async () => {
    const attempt = () =>
      new Promise<string>((resolve) => {
        const request = https.get({ host: '127.0.0.1', port: agent.port, path: `/console/${NS}/web`, rejectUnauthorized: false }, (response) => resolve(`status ${response.statusCode}`));
        request.on('error', (error) => resolve(`error ${error.message}`));
      });
    expect(await attempt()).toMatch(/^error /);
  });
});
