// `photon agent --hollow N --hollow-ovs DB@NETNS`: a hollow node backed by a real chassis (ovs-vswitchd on a
// netdev br-int in a namespace, ovn-controller) plugs its VMs' taps there, so their Ports get real OVN port
// bindings while the hypervisor stays simulated — what the scale run (`npm run bench -- scale --network`) uses
// to bind a sample of its Ports. Shown: the VM on that node is Running with its interface bound only once
// ovn-controller installed it (the Southbound Port_Binding names the chassis), its Port shows the node;
// deleting the VM removes the tap from br-int; bad --hollow-ovs values are usage errors.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { run } from '../../agents/ovn-local/commands.ts';
import { VirtualMachineResource } from '../../apis/compute/v1alpha1/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { PortResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { getVm, guestImages, guestVm, startComputeEnv, type ComputeEnv } from '../env/compute.ts';
import { startOvnChassis, type OvnChassis } from '../env/ovn.ts';
import { startProcess, waitFor, type ManagedProcess } from '../env/process.ts';
import { manifest, PHOTON_CLI } from '../env/tenants.ts';

const NS = 'hollow-ovs';
let env: ComputeEnv;
let chassis: OvnChassis;
let hollow: ManagedProcess;

const agentArgs = (...args: string[]) => ['--import', 'tsx', PHOTON_CLI, 'agent', ...args];

beforeAll(async () => {
  env = await startComputeEnv();
  chassis = await startOvnChassis(env.ovn, { name: 'ch-hollow', encapIp: '127.0.0.21' });
  hollow = startProcess('photon agent --hollow 2 --hollow-ovs', process.execPath, agentArgs(
    '--hollow', '2',
    '--node-name', 'sim',
    '--hollow-ovs', `${chassis.ovsdbEndpoint}@${chassis.netns.name}`,
    '--kubeconfig', env.api.kubeconfig,
    '--state-dir', path.join(chassis.dir, 'hollow'),
    '--lease-duration', '3',
    '--resync', '2',
  ), { cwd: REPOSITORY_ROOT, env: { ...process.env, PHOTON_LOG_LEVEL: 'warn' } });
  await env.namespace(NS);
  kubectlOk(await env.api.kubectl(['apply', '-f', '-'], {
    stdin: manifest(
      ...guestImages(env, NS),
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } },
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'app', namespace: NS }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24' } },
    ),
  }));
}, 120_000);

afterAll(async () => {
  await hollow?.stop();
  await chassis?.stop();
  await env?.stop();
}, 60_000);

/** iface-id → whether ovn-controller marked it installed, for every Interface on the chassis's br-int. */
async function chassisInterfaces(): Promise<Map<string, boolean>> {
  const rows = await chassis.vsctl('--format=json', '--columns=external_ids', 'list', 'Interface');
  const interfaces = new Map<string, boolean>();
  for (const [ids] of (JSON.parse(rows) as { data: Array<[[string, Array<[string, string]>]]> }).data) {
    const map = new Map(ids[1]);
    if (map.has('iface-id')) interfaces.set(map.get('iface-id')!, map.get('ovn-installed') === 'true');
  }
  return interfaces;
}

describe('hollow nodes backed by a real chassis', () => {
  it('binds the Port of a VM on that node in OVN, and reports it bound only then', async () => {
    const vm = guestVm(NS, 'bound', { networks: [{ name: 'eth0', subnetRef: 'app' }], nodeSelector: { 'photoncloud.io/hollow-network': 'ovs' } });
    kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(vm) }));
    const running = await waitFor('the VM Running with its interface bound', async () => {
      if (hollow.child.exitCode !== null) throw new Error(`the hollow agent exited:\n${hollow.output()}`);
      const current = await getVm(env, NS, 'bound');
      return findCondition(current.status?.conditions, 'NetworkReady')?.reason === 'PortsBound' ? current : undefined;
    }, { timeoutMs: 90_000, intervalMs: 250 });
    expect(running.status?.nodeName).toBe('sim-0');
    expect(running.status?.runtime).toMatchObject({ state: 'Running', interfaces: [{ name: 'eth0', bound: true }] });
    const port = await env.client.get<Port>(PortResource, 'bound-eth0', { namespace: NS });
    expect(port.status).toMatchObject({ boundNode: 'sim-0', owner: { kind: 'VirtualMachine', name: 'bound' } });

    // The binding is ovn-controller's: the tap on br-int carries the Port's iface-id, installed, and the
    // Southbound Port_Binding of that logical port names the chassis.
    const ifaceId = running.status!.interfaces![0]!.portUID!;
    expect((await chassisInterfaces()).get(ifaceId)).toBe(true);
    const chassisRow = (await env.ovn.sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', `name=${chassis.name}`)).trim();
    expect(chassisRow).not.toBe('');
    expect((await env.ovn.sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', `logical_port=${ifaceId}`)).trim()).toBe(chassisRow);

    // Deleting the VM takes its tap off br-int, and the binding goes with it.
    await env.client.delete(VirtualMachineResource, 'bound', { namespace: NS });
    await waitFor('the tap removed from br-int', async () => !(await chassisInterfaces()).has(ifaceId), { timeoutMs: 60_000, intervalMs: 250 });
    await waitFor('the Port gone with its VM', async () => env.client.get<Port>(PortResource, 'bound-eth0', { namespace: NS }).then(() => false, () => true), { timeoutMs: 60_000, intervalMs: 250 });
    expect(hollow.output()).not.toMatch(/"level":"error"/);
  }, 150_000);

  it('refuses a --hollow-ovs it cannot use, and more of them than nodes (usage, exit 2)', async () => {
    const invalid = await run(process.execPath, agentArgs('--hollow', '2', '--hollow-ovs', 'db.sock', '--kubeconfig', env.api.kubeconfig), { timeoutMs: 60_000 });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('--hollow-ovs "db.sock": invalid ovsdb remote');
    const badNetns = await run(process.execPath, agentArgs('--hollow', '2', '--hollow-ovs', 'unix:/run/db.sock@../x', '--kubeconfig', env.api.kubeconfig), { timeoutMs: 60_000 });
    expect(badNetns.code).toBe(2);
    expect(badNetns.stderr).toContain('--hollow-ovs "unix:/run/db.sock@../x"');
    const tooMany = await run(process.execPath, agentArgs('--hollow', '1', '--hollow-ovs', 'unix:/a/db.sock', '--hollow-ovs', 'unix:/b/db.sock', '--kubeconfig', env.api.kubeconfig), { timeoutMs: 60_000 });
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain('--hollow-ovs given 2 times for --hollow 1: at most one per node');
  }, 120_000);
});
