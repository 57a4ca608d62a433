// `photon agent --hollow N` against the real API server and the real compute controllers: simulated nodes
// register and heartbeat, the scheduler spreads VMs over them, each VM is reported Running by its node's own
// reconciler, deletion tears it down and the VM goes; when the process stops heartbeating its nodes go
// NotReady. (The real agent, QEMU and OVN are tested in test/compute/; this is the scale simulation's fidelity.)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { clientFromKubeconfig, isConflict, LeaseResource, NamespaceResource, type ApiClient } from '../../apis/client/index.ts';
import { NODE_LEASE_NAMESPACE } from '../../apis/compute/nodes.ts';
import { ImageResource, NodeResource, VirtualMachineResource, type Node, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { guestVm } from '../env/compute.ts';
import { startProcess, waitFor, type ManagedProcess } from '../env/process.ts';

const NS = 'hollow';
const NODES = 12;
const VMS = 36;

describe('photon agent --hollow', () => {
  let api: TestApiServer;
  let client: ApiClient;
  let manager: ControllerManager;
  let hollow: ManagedProcess;
  let stateDir: string;

  beforeAll(async () => {
    api = await startTestApiServer({ storage: 'embedded' });
    client = clientFromKubeconfig(api.kubeconfig, { component: 'hollow-test' });
    manager = startControllerManager({
      kubeconfig: api.kubeconfig,
      // No network controllers run here (the VMs have no interfaces): nothing dials OVN.
      ovnNorthbound: 'tcp:127.0.0.1:1',
      leaderElect: false,
      controllers: ['garbage-collector', 'virtualmachine', 'scheduler', 'node-lifecycle'],
      nodeLifecycle: { nodeMonitorGracePeriodMs: 6000, evictionTimeoutMs: 60_000 },
    });
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-hollow-'));
    hollow = startProcess('photon agent --hollow', process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'cli', 'photon.ts'), 'agent', '--hollow', String(NODES), '--node-name', 'sim', '--kubeconfig', api.kubeconfig, '--state-dir', path.join(stateDir, 'not-yet-made'), '--lease-duration', '3', '--allocatable-cpu', '8', '--allocatable-memory', '4Gi'], {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, PHOTON_LOG_LEVEL: 'warn' },
    });
    await client.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    for (const image of ['guest-kernel', 'guest-initrd']) {
      await client.create(ImageResource, {
        apiVersion: 'compute.photoncloud.io/v1alpha1',
        kind: 'Image',
        metadata: { name: image, namespace: NS },
        spec: { source: { url: `https://images.example/${image}` }, format: image === 'guest-kernel' ? 'kernel' : 'initrd', sha256: '0'.repeat(64) },
      } as KubeObject);
    }
  }, 120_000);

  afterAll(async () => {
    await hollow?.stop();
    await manager?.stop();
    client?.close();
    await api?.stop();
    if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
  });

  const nodes = async () => (await client.listAll<Node>(NodeResource)).items.filter((node) => node.metadata.name!.startsWith('sim-'));
  const vms = async () => (await client.listAll<VirtualMachine>(VirtualMachineResource, { namespace: NS })).items;

  it('registers every node Ready, with its allocatable and a heartbeat Lease', async () => {
    await waitFor('every hollow node Ready', async () => {
      const all = await nodes();
      return all.length === NODES && all.every((node) => findCondition(node.status?.conditions, 'Ready')?.status === 'True');
    }, { timeoutMs: 60_000, intervalMs: 250 });
    const [first] = await nodes();
    expect(first!.metadata.labels).toMatchObject({ 'photoncloud.io/hollow': 'true' });
    expect(first!.status?.allocatable).toMatchObject({ cpu: 8, memory: `${4 * 1024 * 1024}Ki` });
    // Registered with the disk its state directory is on, even when the agent had to make that directory.
    expect(first!.status?.capacity?.disk).toMatch(/^\d+Ki$/);
    const lease = await client.get<KubeObject & { spec: { holderIdentity: string; leaseDurationSeconds: number; renewTime: string } }>(LeaseResource, 'sim-0', { namespace: NODE_LEASE_NAMESPACE });
    expect(lease.spec).toMatchObject({ holderIdentity: 'sim-0', leaseDurationSeconds: 3 });
    await waitFor('the Lease renewed', async () => (await client.get<typeof lease>(LeaseResource, 'sim-0', { namespace: NODE_LEASE_NAMESPACE })).spec.renewTime !== lease.spec.renewTime, { timeoutMs: 10_000, intervalMs: 100 });
    expect(hollow.output()).not.toMatch(/"level":"error"/);
  }, 90_000);

  it("renews each Lease with one write (no read first), and after someone else's write reads it again and keeps that write", async () => {
    /** Successful requests on Leases by verb, from the API server's own counters. */
    const leaseRequests = async (verb: string) =>
      (await api.server.metrics.registry.metrics())
        .split('\n')
        .filter((line) => line.startsWith('apiserver_request_total{') && line.includes(`verb="${verb}"`) && line.includes('resource="leases"') && /code="2\d\d"/.test(line))
        .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    const [getsBefore, updatesBefore] = [await leaseRequests('GET'), await leaseRequests('UPDATE')];
    await new Promise((resolve) => setTimeout(resolve, 3000)); // 12 nodes renewing every 750 ms
    expect((await leaseRequests('UPDATE')) - updatesBefore).toBeGreaterThanOrEqual(NODES * 2);
    expect((await leaseRequests('GET')) - getsBefore).toBe(0);

    // Someone else writes sim-0's Lease: the agent's next renewal meets a 409, reads it, and renews that.
    // (Our own read-modify-write races the renewals too: a 409 here is retried.)
    const written = await waitFor('the admin write', async () => {
      const current = await client.get<KubeObject & { spec: { renewTime: string } }>(LeaseResource, 'sim-0', { namespace: NODE_LEASE_NAMESPACE });
      return client.update<typeof current>(LeaseResource, { ...current, metadata: { ...current.metadata, labels: { touched: 'by-admin' } } }).catch((error: unknown) => (isConflict(error) ? undefined : Promise.reject(error)));
    }, { timeoutMs: 10_000, intervalMs: 50 });
    await waitFor('a renewal after that write', async () => {
      const lease = await client.get<typeof written>(LeaseResource, 'sim-0', { namespace: NODE_LEASE_NAMESPACE });
      return lease.spec.renewTime !== written.spec.renewTime && lease.metadata.labels?.touched === 'by-admin';
    }, { timeoutMs: 10_000, intervalMs: 100 });
  });

  it('runs VMs the scheduler spreads over the hollow nodes, each reported Running by its own node, and deletes them', async () => {
    await waitFor('nodes Ready', async () => (await nodes()).filter((node) => findCondition(node.status?.conditions, 'Ready')?.status === 'True').length === NODES, { timeoutMs: 60_000 });
    for (let index = 0; index < VMS; index++) await client.create(VirtualMachineResource, guestVm(NS, `vm-${index}`, { cpu: 2 }) as KubeObject);
    await waitFor('every VM Running on its node', async () => (await vms()).filter((vm) => vm.status?.runtime?.state === 'Running' && vm.status.runtime.node === vm.status.nodeName).length === VMS, { timeoutMs: 90_000, intervalMs: 250 });
    const placed = new Map<string, number>();
    for (const vm of await vms()) placed.set(vm.status!.nodeName!, (placed.get(vm.status!.nodeName!) ?? 0) + 1);
    // 8 vCPUs per node and 2 per VM: at most 4 fit on one node, so the 36 VMs use at least 9 of the 12 nodes.
    expect(Math.max(...placed.values())).toBeLessThanOrEqual(4);
    expect(placed.size).toBeGreaterThanOrEqual(9);
    expect((await vms())[0]!.status?.runtime?.pid).toBeGreaterThanOrEqual(10_000_000);

    for (let index = 0; index < VMS; index++) await client.delete(VirtualMachineResource, `vm-${index}`, { namespace: NS });
    await waitFor('every VM gone', async () => (await vms()).length === 0, { timeoutMs: 90_000, intervalMs: 250 });
  }, 240_000);

  it('its nodes go NotReady when the process stops heartbeating', async () => {
    await hollow.kill();
    await waitFor('every hollow node NotReady', async () => (await nodes()).every((node) => findCondition(node.status?.conditions, 'Ready')?.status !== 'True'), { timeoutMs: 60_000, intervalMs: 250 });
  }, 90_000);
});
