// Two agents on one machine as two nodes (separate state directories and chassis): the scheduler spreads VMs
// over them, honours cordon (`photon cordon`) and nodeSelector; when one node dies (agent, QEMUs and chassis
// gone — a host losing power) its Node goes Ready=Unknown within the grace period, its VMs Unknown, and a
// RerunOnFailure VM runs on the other node with the same IP and MAC.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { NodeResource, type Node } from '../../apis/compute/v1alpha1/index.ts';
import { PortResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { getVm, guestImages, guestVm, startComputeEnv, waitConsole, waitVmStatus, type ComputeEnv, type TestAgent } from '../env/compute.ts';
import { waitFor } from '../env/process.ts';
import { manifest, PHOTON_CLI } from '../env/tenants.ts';

const NS = 'fleet';
let env: ComputeEnv;
let agents: TestAgent[];

const network = [
  { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } },
  { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'app', namespace: NS }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24' } },
];
const apply = async (...objects: object[]) => kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...objects) }));
const photon = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', PHOTON_CLI, ...args], { env: { ...process.env, KUBECONFIG: env.api.kubeconfig } });

beforeAll(async () => {
  env = await startComputeEnv({ nodeMonitorGracePeriodMs: 6000, evictionTimeoutMs: 1000 });
  agents = [await env.startAgent('hv-a', { labels: { zone: 'a' } }), await env.startAgent('hv-b', { labels: { zone: 'b' } })];
  await env.namespace(NS);
  await apply(...guestImages(env, NS), ...network);
  for (const name of ['hv-a', 'hv-b']) {
    await waitFor(`Node ${name} Ready`, async () => (await env.client.get<Node>(NodeResource, name)).status?.conditions?.find((condition) => condition.type === 'Ready')?.status === 'True', { timeoutMs: 60_000, intervalMs: 200 });
  }
}, 180_000);

afterAll(async () => {
  await env?.stop();
}, 60_000);

describe('nodes', () => {
  test('VMs spread over the nodes; nodeSelector and cordon are honoured', async () => {
    await apply(...['s1', 's2', 's3', 's4'].map((name) => guestVm(NS, name)));
    const placed = await Promise.all(['s1', 's2', 's3', 's4'].map(async (name) => (await waitVmStatus(env, NS, name, 'Running')).status!.nodeName));
    expect(placed.filter((node) => node === 'hv-a')).toHaveLength(2);
    expect(placed.filter((node) => node === 'hv-b')).toHaveLength(2);

    await apply(guestVm(NS, 'pinned', { nodeSelector: { zone: 'b' } }));
    expect((await waitVmStatus(env, NS, 'pinned', 'Running')).status!.nodeName).toBe('hv-b');

    expect((await photon('cordon', 'hv-b')).stdout).toContain('node/hv-b cordoned');
    expect((await env.client.get<Node>(NodeResource, 'hv-b')).spec?.unschedulable).toBe(true);
    await apply(guestVm(NS, 'after-cordon'));
    expect((await waitVmStatus(env, NS, 'after-cordon', 'Running')).status!.nodeName).toBe('hv-a');
    // Cordoned and selected: nowhere to go, and it says why.
    await apply(guestVm(NS, 'only-b', { nodeSelector: { zone: 'b' } }));
    const waiting = await waitVmStatus(env, NS, 'only-b', 'ErrorUnschedulable', 30_000);
    expect(waiting.status!.conditions!.find((condition) => condition.type === 'Scheduled')!.message).toMatch(/unschedulable \(cordoned\)/);
    expect((await photon('uncordon', 'hv-b')).stdout).toContain('node/hv-b uncordoned');
    expect((await waitVmStatus(env, NS, 'only-b', 'Running')).status!.nodeName).toBe('hv-b');
    await expect(photon('cordon', 'no-such-node')).rejects.toMatchObject({ stderr: expect.stringContaining('not found') });

    kubectlOk(await env.api.kubectl(['delete', 'virtualmachines', '--all', '-n', NS, '--timeout=120s']));
  }, 300_000);

  test('a node that dies: Ready Unknown, its VMs Unknown, a RerunOnFailure VM runs on the other node with the same IP and MAC', async () => {
    await apply(
      guestVm(NS, 'mover', { runStrategy: 'RerunOnFailure', networks: [{ name: 'eth0', subnetRef: 'app' }], nodeSelector: { zone: 'a' } }),
      guestVm(NS, 'stays', { nodeSelector: { zone: 'a' } }),
    );
    const before = await waitVmStatus(env, NS, 'mover', 'Running');
    await waitVmStatus(env, NS, 'stays', 'Running');
    const address = before.status!.interfaces![0];
    await waitConsole(env, NS, 'mover', `photon-guest: ip=${address.ipAddress}`);
    // Let it move anywhere now (the selector only chose where it started).
    kubectlOk(await env.api.kubectl(['patch', 'virtualmachine', 'mover', '-n', NS, '--type', 'json', '-p', '[{"op":"remove","path":"/spec/nodeSelector"}]']));

    // hv-a loses power: its agent, its QEMUs and its chassis are gone at once.
    const dead = agents[0];
    const pids = [before.status!.runtime!.pid!, (await getVm(env, NS, 'stays')).status!.runtime!.pid!];
    await dead.kill();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await dead.chassis.stop();

    const lost = Date.now();
    await waitFor('hv-a Ready=Unknown', async () => {
      const ready = (await env.client.get<Node>(NodeResource, 'hv-a')).status?.conditions?.find((condition) => condition.type === 'Ready');
      return ready?.status === 'Unknown' && ready.reason === 'NodeStatusUnknown';
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(Date.now() - lost).toBeLessThan(20_000);
    expect((await waitVmStatus(env, NS, 'stays', 'Unknown', 30_000)).status!.nodeName).toBe('hv-a');

    const moved = await waitVmStatus(env, NS, 'mover', 'Running', 120_000);
    expect(moved.status!.nodeName).toBe('hv-b');
    expect(moved.status!.interfaces![0]).toMatchObject({ ipAddress: address.ipAddress, macAddress: address.macAddress });
    await waitFor('its Port bound on hv-b', async () => (await env.client.get<Port>(PortResource, address.portName!, { namespace: NS })).status?.boundNode === 'hv-b', { timeoutMs: 30_000, intervalMs: 200 });
    await waitConsole(env, NS, 'mover', `photon-guest: ip=${address.ipAddress}`, 60_000);
    const events = kubectlOk(await env.api.kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=mover', '-o', 'jsonpath={.items[*].reason}']));
    expect(events).toContain('NodeLost');
  }, 300_000);
});
