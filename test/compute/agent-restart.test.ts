// The node agent is killed (SIGKILL, at whatever line it was) and started again: running VMs keep running —
// same QEMU pid, nothing restarted — and are adopted; a VM deleted while the agent was down is cleaned up
// when it returns (no QEMU, tap, disk or state left), and the deletion completes.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { VirtualMachineResource } from '../../apis/compute/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { getVm, guestImages, guestVm, startComputeEnv, waitVmStatus, type ComputeEnv, type TestAgent } from '../env/compute.ts';
import { processRunning, waitFor } from '../env/process.ts';
import { manifest } from '../env/tenants.ts';

const NS = 'restart';
let env: ComputeEnv;
let agent: TestAgent;

beforeAll(async () => {
  env = await startComputeEnv();
  agent = await env.startAgent('hv-1');
  await env.namespace(NS);
}, 120_000);

afterAll(async () => {
  await env?.stop();
}, 60_000);

const alive = processRunning;

describe('node agent restart', () => {
  test('SIGKILLed agent: running VMs keep their QEMU and are adopted; a VM deleted meanwhile is cleaned up on return', async () => {
    const network = [
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } },
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'app', namespace: NS }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24' } },
    ];
    const vm = (name: string) => guestVm(NS, name, { networks: [{ name: 'eth0', subnetRef: 'app' }], disks: [{ name: 'data', size: '16Mi' }] });
    kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...guestImages(env, NS), ...network, vm('keep'), vm('gone')) }));
    const keep = await waitVmStatus(env, NS, 'keep', 'Running');
    const gone = await waitVmStatus(env, NS, 'gone', 'Running');
    const keepPid = keep.status!.runtime!.pid!;
    const gonePid = gone.status!.runtime!.pid!;
    const goneUid = gone.metadata.uid!;
    expect((await agent.leftovers()).taps).toHaveLength(2);

    await agent.kill();
    expect(alive(keepPid)).toBe(true);
    expect(alive(gonePid)).toBe(true);

    // Deleted while the agent is down: the deletion waits (the node's agent has not cleaned up yet) …
    kubectlOk(await env.api.kubectl(['delete', 'virtualmachine', 'gone', '-n', NS, '--wait=false']));
    await waitFor('gone marked for deletion', async () => (await getVm(env, NS, 'gone')).metadata.deletionTimestamp, { timeoutMs: 10_000, intervalMs: 100 });

    await agent.restart();
    // … and completes once it is back: QEMU stopped, taps, disks and state removed.
    await waitFor('gone deleted', async () => env.client.get(VirtualMachineResource, 'gone', { namespace: NS }).then(() => false, (error) => error.code === 404), { timeoutMs: 60_000, intervalMs: 200 });
    await waitFor('gone\'s QEMU stopped', () => !alive(gonePid), { timeoutMs: 30_000, intervalMs: 100 });
    // Its QEMU state, disks and tap follow within the same teardown.
    await waitFor('gone\'s state, disks and tap removed', async () => {
      const left = await agent.leftovers();
      return !left.qemu.includes(goneUid) && !left.disks.includes(goneUid) && left.taps.length === 1;
    }, { timeoutMs: 30_000, intervalMs: 100 });

    // The other one was adopted, not restarted.
    const adopted = await waitVmStatus(env, NS, 'keep', 'Running');
    expect(adopted.status!.runtime!.pid).toBe(keepPid);
    expect(alive(keepPid)).toBe(true);
    expect(adopted.status!.runtime!.startedAt).toBe(keep.status!.runtime!.startedAt);
    expect(agent.process.output()).toMatch(/"message":"node agent started"/);
    expect(agent.process.output()).not.toMatch(/"message":"VM started"/);
  }, 240_000);

  test('leftovers of a VM removed from the API behind the agent\'s back (finalizer forced off) are swept at start', async () => {
    const vm = guestVm(NS, 'forced', { disks: [{ name: 'data', size: '16Mi' }] });
    kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(vm) }));
    const running = await waitVmStatus(env, NS, 'forced', 'Running');
    const pid = running.status!.runtime!.pid!;
    await agent.kill();
    // An operator strips the finalizer: the object is gone at once, with nobody left to clean up but the agent.
    kubectlOk(await env.api.kubectl(['delete', 'virtualmachine', 'forced', '-n', NS, '--wait=false']));
    kubectlOk(await env.api.kubectl(['patch', 'virtualmachine', 'forced', '-n', NS, '--type', 'json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']));
    await waitFor('forced gone from the API', async () => env.client.get(VirtualMachineResource, 'forced', { namespace: NS }).then(() => false, (error) => error.code === 404), { timeoutMs: 10_000, intervalMs: 100 });
    await agent.restart();
    await waitFor('forced\'s QEMU stopped by the sweep', () => !alive(pid), { timeoutMs: 60_000, intervalMs: 200 });
    await waitFor('forced\'s disks and state removed', async () => {
      const left = await agent.leftovers();
      return !left.qemu.includes(running.metadata.uid!) && !left.disks.includes(running.metadata.uid!);
    }, { timeoutMs: 30_000, intervalMs: 200 });
  }, 180_000);
});
