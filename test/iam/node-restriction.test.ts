// A node agent's credentials (`photon kubeconfig node NAME`: system:node:NAME in system:nodes) reach only its
// own node's work: the VirtualMachines bound to it (status.nodeName) and only their status, its own Node and
// Lease. A credential taken from one hypervisor learns nothing about another's VMs and can move nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectlOk as ok } from '../env/apiserver.ts';
import { isForbidden, organization, project, startTenantEnvironment, type Session, type TenantEnvironment } from '../env/tenants.ts';

const COMPUTE = 'compute.photoncloud.io/v1alpha1';
const vm = (name: string) => ({
  apiVersion: COMPUTE,
  kind: 'VirtualMachine',
  metadata: { name, namespace: 'hosting' },
  spec: { cpu: { cores: 1 }, memory: '1Gi', boot: { imageRef: 'debian-12' } },
});
const lb = (name: string) => ({
  apiVersion: 'lb.photoncloud.io/v1alpha1',
  kind: 'LoadBalancer',
  metadata: { name, namespace: 'hosting' },
  spec: { subnetRef: 'web', listeners: [{ name: 'www', protocol: 'HTTP', port: 80 }] },
});
const STORAGE = 'storage.photoncloud.io/v1alpha1';
const localVolume = (name: string) => ({ apiVersion: STORAGE, kind: 'Volume', metadata: { name, namespace: 'hosting' }, spec: { size: '1Gi', storageClassName: 'node-local' } });
const node = (name: string) => ({ apiVersion: COMPUTE, kind: 'Node', metadata: { name }, spec: {} });
const json = (object: object) => JSON.stringify(object);

let tenants: TenantEnvironment;
let n1: Session;

beforeAll(async () => {
  tenants = await startTenantEnvironment();
  await tenants.apply(organization('hoster'), project('hosting', 'hoster'));
  await tenants.waitForNamespace('hosting');
  await tenants.apply(vm('on-n1'), vm('on-n2'), vm('unscheduled'));
  // The scheduler's part, done by the admin here: bind each VM to its node through the status subresource.
  ok(await tenants.admin(['patch', 'virtualmachine', 'on-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"nodeName":"n1"}}']));
  ok(await tenants.admin(['patch', 'virtualmachine', 'on-n2', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"nodeName":"n2"}}']));
  // LoadBalancers whose HTTP proxy the controller placed on n1 and on n2 (the controller's part, done by the admin).
  await tenants.apply(lb('proxied-n1'), lb('proxied-n2'));
  ok(await tenants.admin(['patch', 'loadbalancer', 'proxied-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"vipAddress":"10.0.0.5","proxy":{"node":"n1","configurationHash":"abc"}}}']));
  ok(await tenants.admin(['patch', 'loadbalancer', 'proxied-n2', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"proxy":{"node":"n2"}}}']));
  // Local Volumes kept on n1 and on n2 (the volume controller's binding, done by the admin), and a snapshot of n1's.
  await tenants.apply({ apiVersion: STORAGE, kind: 'StorageClass', metadata: { name: 'node-local' }, spec: { backend: 'local' } }, localVolume('kept-n1'), localVolume('kept-n2'));
  await tenants.apply({ apiVersion: STORAGE, kind: 'VolumeSnapshot', metadata: { name: 'snap-n1', namespace: 'hosting' }, spec: { volumeRef: 'kept-n1' } });
  ok(await tenants.admin(['patch', 'volume', 'kept-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"backend":{"type":"local","node":"n1","image":"vol-1.qcow2"}}}']));
  ok(await tenants.admin(['patch', 'volume', 'kept-n2', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"backend":{"type":"local","node":"n2","image":"vol-2.qcow2"}}}']));
  ok(await tenants.admin(['patch', 'volumesnapshot', 'snap-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"node":"n1","snapshotHandle":"vol-1.qcow2@snap-1"}}']));
  n1 = await tenants.session('n1', 'node');
}, 120_000);

afterAll(async () => {
  await tenants?.stop();
});

describe('node restriction', () => {
  it('a node lists and watches only the VirtualMachines bound to it', async () => {
    const mine = ok(await n1.kubectl(['get', 'virtualmachines', '-A', '--field-selector', 'status.nodeName=n1', '-o', 'name']));
    expect(mine.trim().split('\n')).toEqual(['virtualmachine.compute.photoncloud.io/on-n1']);
    expect(isForbidden(await n1.kubectl(['get', 'virtualmachines', '-A']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['get', 'virtualmachines', '-A', '--field-selector', 'status.nodeName=n2']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['get', 'virtualmachines', '-n', 'hosting']))).toBe(true);
  });

  it('cannot read another node\'s VMs, or unscheduled ones', async () => {
    ok(await n1.kubectl(['get', 'virtualmachine', 'on-n1', '-n', 'hosting']));
    expect(isForbidden(await n1.kubectl(['get', 'virtualmachine', 'on-n2', '-n', 'hosting']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['get', 'virtualmachine', 'unscheduled', '-n', 'hosting']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['get', 'secrets', '-n', 'hosting']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['get', 'configmaps', '-A']))).toBe(true);
  });

  it('changes nothing but its report in the status of its own VMs, and cannot move them to another node', async () => {
    ok(await n1.kubectl(['patch', 'virtualmachine', 'on-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"runtime":{"node":"n1","state":"Running","reason":"Running","message":"QEMU running"}}}']));
    expect(ok(await tenants.admin(['get', 'virtualmachine', 'on-n1', '-n', 'hosting', '-o', 'jsonpath={.status.runtime.state}']))).toBe('Running');
    // The controllers' fields are not the node's: its VM's summary, and the Volumes it may attach.
    expect(isForbidden(await n1.kubectl(['patch', 'virtualmachine', 'on-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"printableStatus":"Running"}}']))).toBe(true);
    const claimed = await n1.kubectl(['patch', 'virtualmachine', 'on-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"volumes":[{"name":"data","volumeRef":"someone-elses","attachable":true,"pool":"photon-standard","image":"vol-0"}]}}']);
    expect(isForbidden(claimed)).toBe(true);
    expect(claimed.stderr).toMatch(/may only write status\.runtime and the DisksReady condition/);
    expect(isForbidden(await n1.kubectl(['patch', 'virtualmachine', 'on-n1', '-n', 'hosting', '--type', 'merge', '-p', '{"spec":{"cpu":{"cores":8}}}']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['delete', 'virtualmachine', 'on-n1', '-n', 'hosting', '--wait=false']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['patch', 'virtualmachine', 'on-n2', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"printableStatus":"Stopped"}}']))).toBe(true);
    const moved = await n1.kubectl(['patch', 'virtualmachine', 'on-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"nodeName":"n2"}}']);
    expect(isForbidden(moved)).toBe(true);
    expect(ok(await tenants.admin(['get', 'virtualmachine', 'on-n1', '-n', 'hosting', '-o', 'jsonpath={.status.nodeName}']))).toBe('n1');
    expect(isForbidden(await n1.kubectl(['apply', '-f', '-'], json({ ...vm('planted'), metadata: { name: 'planted', namespace: 'hosting' } })))).toBe(true);
  });

  it('writes its own Node and Lease, never another node\'s', async () => {
    ok(await n1.kubectl(['apply', '-f', '-'], json(node('n1'))));
    expect(isForbidden(await n1.kubectl(['apply', '-f', '-'], json(node('n2'))))).toBe(true);
    expect(isForbidden(await n1.kubectl(['get', 'node.compute.photoncloud.io', 'n2']))).toBe(true);
    const lease = (name: string) => json({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'photon-node-lease' }, spec: { holderIdentity: name, leaseDurationSeconds: 40 } });
    ok(await n1.kubectl(['apply', '-f', '-'], lease('n1')));
    expect(isForbidden(await n1.kubectl(['apply', '-f', '-'], lease('n2')))).toBe(true);
    // Not the controller manager's leader Lease either.
    expect(isForbidden(await n1.kubectl(['get', 'leases', '-n', 'photon-system']))).toBe(true);
  });

  it('reads and reports only the LoadBalancers whose HTTP proxy runs on it, and only the proxy\'s report', async () => {
    const mine = ok(await n1.kubectl(['get', 'loadbalancers', '-A', '--field-selector', 'status.proxy.node=n1', '-o', 'name']));
    expect(mine.trim().split('\n')).toEqual(['loadbalancer.lb.photoncloud.io/proxied-n1']);
    expect(isForbidden(await n1.kubectl(['get', 'loadbalancers', '-A']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['get', 'loadbalancers', '-A', '--field-selector', 'status.proxy.node=n2']))).toBe(true);
    ok(await n1.kubectl(['get', 'loadbalancer', 'proxied-n1', '-n', 'hosting']));
    expect(isForbidden(await n1.kubectl(['get', 'loadbalancer', 'proxied-n2', '-n', 'hosting']))).toBe(true);
    // Its report: appliedHash, ready, message, servers.
    ok(await n1.kubectl(['patch', 'loadbalancer', 'proxied-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"proxy":{"appliedHash":"abc","ready":true,"servers":[{"pool":"www-0","server":"vm-a","up":true}]}}}']));
    expect(ok(await tenants.admin(['get', 'loadbalancer', 'proxied-n1', '-n', 'hosting', '-o', 'jsonpath={.status.proxy.appliedHash}']))).toBe('abc');
    // Nothing else: not the VIP, not the configuration, not where the proxy runs, not the spec, not another node's.
    for (const patch of ['{"status":{"vipAddress":"10.0.0.6"}}', '{"status":{"proxy":{"configurationHash":"evil"}}}', '{"status":{"proxy":{"node":"n2"}}}']) {
      expect(isForbidden(await n1.kubectl(['patch', 'loadbalancer', 'proxied-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', patch]))).toBe(true);
    }
    expect(isForbidden(await n1.kubectl(['patch', 'loadbalancer', 'proxied-n1', '-n', 'hosting', '--type', 'merge', '-p', '{"spec":{"subnetRef":"other"}}']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['patch', 'loadbalancer', 'proxied-n2', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"proxy":{"ready":true}}}']))).toBe(true);
    expect(ok(await tenants.admin(['get', 'loadbalancer', 'proxied-n1', '-n', 'hosting', '-o', 'jsonpath={.status.vipAddress} {.status.proxy.node} {.status.proxy.configurationHash}']))).toBe('10.0.0.5 n1 abc');
  });

  it('reads and reports only the local Volumes and snapshots kept on it, and only the file report', async () => {
    const mine = ok(await n1.kubectl(['get', 'volumes', '-A', '--field-selector', 'status.backend.node=n1', '-o', 'name']));
    expect(mine.trim().split('\n')).toEqual(['volume.storage.photoncloud.io/kept-n1']);
    expect(isForbidden(await n1.kubectl(['get', 'volumes', '-A']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['get', 'volumes', '-A', '--field-selector', 'status.backend.node=n2']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['get', 'volume', 'kept-n2', '-n', 'hosting']))).toBe(true);
    expect(ok(await n1.kubectl(['get', 'volumesnapshots', '-A', '--field-selector', 'status.node=n1', '-o', 'name'])).trim()).toBe('volumesnapshot.storage.photoncloud.io/snap-n1');
    expect(isForbidden(await n1.kubectl(['get', 'volumesnapshots', '-A']))).toBe(true);
    // Its report on the file and on the snapshot.
    ok(await n1.kubectl(['patch', 'volume', 'kept-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"local":{"made":true,"sizeBytes":1073741824}}}']));
    ok(await n1.kubectl(['patch', 'volumesnapshot', 'snap-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"local":{"taken":true}}}']));
    expect(ok(await tenants.admin(['get', 'volume', 'kept-n1', '-n', 'hosting', '-o', 'jsonpath={.status.local.sizeBytes}']))).toBe('1073741824');
    // Nothing else: not where it is kept, not the readiness, not who holds it, not the spec, not another node's.
    for (const patch of ['{"status":{"backend":{"node":"n2"}}}', '{"status":{"capacityBytes":5}}', '{"status":{"attachedTo":{"virtualMachine":"on-n1"}}}']) {
      expect(isForbidden(await n1.kubectl(['patch', 'volume', 'kept-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', patch]))).toBe(true);
    }
    expect(isForbidden(await n1.kubectl(['patch', 'volume', 'kept-n1', '-n', 'hosting', '--type', 'merge', '-p', '{"spec":{"size":"2Gi"}}']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['patch', 'volume', 'kept-n2', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"local":{"made":true}}}']))).toBe(true);
    expect(isForbidden(await n1.kubectl(['patch', 'volumesnapshot', 'snap-n1', '-n', 'hosting', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"readyToUse":true}}']))).toBe(true);
    expect(ok(await tenants.admin(['get', 'volume', 'kept-n1', '-n', 'hosting', '-o', 'jsonpath={.status.backend.node}']))).toBe('n1');
  });
});
