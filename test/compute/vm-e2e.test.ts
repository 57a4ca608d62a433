// End to end through the API, as a tenant uses it: one manifest with a Vpc, Subnet, SecurityGroup and two VMs
// of the test guest → both Running on real QEMU (TCG) behind a real OVN chassis; each guest's DHCP address,
// read from its serial console through the API, is its Port's; one pings the other. Then stop and start
// (same IP and MAC, data disk kept), a VM that fits no node, and an image with a wrong checksum.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { PortResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import { VirtualMachineResource } from '../../apis/compute/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { consoleOf, getVm, guestImages, guestVm, startComputeEnv, waitConsole, waitVmStatus, type ComputeEnv, type TestAgent } from '../env/compute.ts';
import { processRunning, waitFor } from '../env/process.ts';
import { manifest } from '../env/tenants.ts';

const NS = 'acme';
let env: ComputeEnv;
let agent: TestAgent;

beforeAll(async () => {
  env = await startComputeEnv();
  agent = await env.startAgent('hv-1');
  await env.namespace(NS);
  kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...guestImages(env, NS)) }));
}, 120_000);

afterAll(async () => {
  await env?.stop();
}, 60_000);

const network = [
  { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } },
  { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'web', namespace: NS }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24' } },
  { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'SecurityGroup', metadata: { name: 'web', namespace: NS }, spec: { ingress: [{ protocol: 'ICMP', from: { cidr: '10.0.0.0/16' } }] } },
];

describe('VirtualMachines on QEMU and OVN, through the API', () => {
  test('one manifest → two Running VMs whose guests got their Ports\' addresses by DHCP; one pings the other', async () => {
    const vms = [
      guestVm(NS, 'web-1', { networks: [{ name: 'eth0', subnetRef: 'web', ipAddress: '10.0.1.10', securityGroupRefs: ['web'] }], disks: [{ name: 'data', size: '64Mi' }], userData: `write first-boot\n${'ping 10.0.1.11\n'.repeat(6)}` }),
      guestVm(NS, 'web-2', { networks: [{ name: 'eth0', subnetRef: 'web', ipAddress: '10.0.1.11', securityGroupRefs: ['web'] }] }),
    ];
    // VMs first, the network after: order never matters.
    kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...vms, ...network) }));
    for (const name of ['web-1', 'web-2']) {
      const vm = await waitVmStatus(env, NS, name, 'Running');
      expect(vm.status!.nodeName).toBe('hv-1');
      const port = await env.client.get<Port>(PortResource, `${name}-eth0`, { namespace: NS });
      expect(port.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'VirtualMachine', name, controller: true });
      expect(port.status?.owner).toEqual({ kind: 'VirtualMachine', name });
      expect(port.status?.boundNode).toBe('hv-1');
      expect(vm.status!.interfaces![0]).toMatchObject({ name: 'eth0', portName: `${name}-eth0`, ipAddress: port.status!.ipAddress, macAddress: port.status!.macAddress });
      // The guest's DHCP answer, as it printed it on its console, read through the API.
      await waitConsole(env, NS, name, `photon-guest: ip=${port.status!.ipAddress}`);
    }
    // Both boot at once: web-1 pings web-2 up to six times (6 s each) while web-2 comes up.
    await waitConsole(env, NS, 'web-1', 'photon-guest: ping 10.0.1.11 ok');
    // After its user data ran, the guest reports what its data disk holds.
    await waitConsole(env, NS, 'web-1', 'photon-guest: disk=first-boot');
    // kubectl get shows the summary columns.
    const table = kubectlOk(await env.api.kubectl(['get', 'virtualmachines', '-n', NS]));
    expect(table).toMatch(/web-1\s+Running\s+hv-1/);
  }, 240_000);

  test('stop (Halted) and start: same IP and MAC, data disk contents kept', async () => {
    const before = await getVm(env, NS, 'web-1');
    const pid = before.status!.runtime!.pid;
    kubectlOk(await env.api.kubectl(['patch', 'virtualmachine', 'web-1', '-n', NS, '--type', 'merge', '-p', '{"spec":{"runStrategy":"Halted"}}']));
    const stopped = await waitVmStatus(env, NS, 'web-1', 'Stopped');
    expect(stopped.status!.runtime).toMatchObject({ state: 'Stopped', reason: 'Halted' });
    expect(stopped.status!.nodeName).toBe('hv-1'); // stays bound: its disks are there
    await waitFor('QEMU gone', () => !processRunning(pid!), { timeoutMs: 30_000, intervalMs: 200 });
    // Gracefully: the guest powered off on the ACPI power button, no quit or kill needed.
    expect(agent.process.output()).toMatch(/"message":"VM stopped".*"path":"acpi"/);
    const port = await env.client.get<Port>(PortResource, 'web-1-eth0', { namespace: NS });
    expect(port.status?.boundNode).toBeUndefined();

    // Started again without the write in its user data: what the guest finds on the disk is what it kept.
    kubectlOk(await env.api.kubectl(['patch', 'virtualmachine', 'web-1', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { runStrategy: 'Always', userData: 'ping 10.0.1.11\n' } })]));
    const running = await waitVmStatus(env, NS, 'web-1', 'Running');
    expect(running.status!.runtime!.pid).not.toBe(pid);
    expect(running.status!.interfaces![0]).toEqual(before.status!.interfaces![0]);
    // The console keeps every boot: the second boot printed the same address and the disk written on the first.
    await waitFor('second boot on the console', async () => {
      const text = await consoleOf(env, NS, 'web-1');
      return count(text, 'photon-guest: disk=first-boot') >= 2 && count(text, `photon-guest: ip=${before.status!.interfaces![0].ipAddress}`) >= 2;
    }, { timeoutMs: 60_000, intervalMs: 500 });
  }, 180_000);

  test('a VM wanting more cores than any node has is ErrorUnschedulable, naming the reason', async () => {
    kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(guestVm(NS, 'huge', { cpu: 64 })) }));
    const vm = await waitVmStatus(env, NS, 'huge', 'ErrorUnschedulable', 30_000);
    const scheduled = vm.status!.conditions!.find((condition) => condition.type === 'Scheduled');
    expect(scheduled).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    expect(scheduled!.message).toMatch(/cpu/i);
    expect(vm.status!.nodeName).toBeUndefined();
    kubectlOk(await env.api.kubectl(['delete', 'virtualmachine', 'huge', '-n', NS, '--wait=true']));
  }, 60_000);

  test('an image whose checksum does not match: the VM is Failed with the reason, and nothing is left on the node', async () => {
    const wrong = createHash('sha256').update('not the guest').digest('hex');
    const image = { apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Image', metadata: { name: 'bad-initrd', namespace: NS }, spec: { source: { path: env.guest.initrd }, format: 'initrd', sha256: wrong } };
    const vm = guestVm(NS, 'bad', { disks: [{ name: 'data', size: '16Mi' }] }) as { spec: { boot: { kernel: { initrdRef: string } } } };
    vm.spec.boot.kernel.initrdRef = 'bad-initrd';
    kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(image, vm) }));
    const failed = await waitVmStatus(env, NS, 'bad', 'Failed', 60_000);
    expect(failed.status!.runtime).toMatchObject({ state: 'Failed', reason: 'ChecksumMismatch' });
    expect(failed.status!.runtime!.message).toContain(wrong);
    expect(failed.status!.conditions!.find((condition) => condition.type === 'DisksReady')).toMatchObject({ status: 'False', reason: 'ChecksumMismatch' });
    // The Image says why; the good ones say they were verified.
    const images = JSON.parse(kubectlOk(await env.api.kubectl(['get', 'images', '-n', NS, '-o', 'json']))).items as Array<{ metadata: { name: string }; status?: { sizeBytes?: number; conditions?: Array<{ type: string; status: string; reason: string }> } }>;
    const readyOf = (name: string) => images.find((image) => image.metadata.name === name)?.status?.conditions?.find((condition) => condition.type === 'Ready');
    expect(readyOf('bad-initrd')).toMatchObject({ status: 'False', reason: 'ChecksumMismatch' });
    expect(readyOf('guest-initrd')).toMatchObject({ status: 'True', reason: 'Verified' });
    expect(images.find((image) => image.metadata.name === 'guest-kernel')?.status?.sizeBytes).toBeGreaterThan(1_000_000);
    const uid = failed.metadata.uid!;
    const left = await agent.leftovers();
    expect(left.qemu).not.toContain(uid);
    expect(left.disks).not.toContain(uid);
    kubectlOk(await env.api.kubectl(['delete', 'virtualmachine', 'bad', '-n', NS, '--wait=true']));
  }, 90_000);

  test('deleting a VM stops its QEMU, removes its taps and disks, and deletes the Port it created', async () => {
    const vm = await getVm(env, NS, 'web-2');
    const uid = vm.metadata.uid!;
    const pid = vm.status!.runtime!.pid!;
    kubectlOk(await env.api.kubectl(['delete', 'virtualmachine', 'web-2', '-n', NS, '--wait=true', '--timeout=60s']));
    await expect(env.client.get(VirtualMachineResource, 'web-2', { namespace: NS })).rejects.toMatchObject({ code: 404 });
    expect(processRunning(pid)).toBe(false);
    const left = await agent.leftovers();
    expect(left.qemu).not.toContain(uid);
    expect(left.disks).not.toContain(uid);
    expect(left.taps).toHaveLength(1); // web-1's only
    await waitFor('Port web-2-eth0 deleted with its VM', async () => env.client.get(PortResource, 'web-2-eth0', { namespace: NS }).then(() => false, (error) => error.code === 404), { timeoutMs: 30_000, intervalMs: 200 });
  }, 120_000);
});

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

