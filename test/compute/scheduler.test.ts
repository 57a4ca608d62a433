// The scheduler and the node-lifecycle controller against a real API server (etcd) and the controller manager
// running only those two, with Nodes an admin registers by hand (no agents, no QEMU, no OVN): the test writes
// each Node's status (allocatable, Ready) and renews its Lease itself, so a node "dies" when the test stops
// renewing. VMs spread over two nodes without overcommitting them when created all at once; too many cores
// leave a VM Unschedulable saying why, and it is retried when room appears; nodeSelector and `photon cordon`
// keep VMs off a node; a Halted VM waits unscheduled; a node whose Lease stops goes Ready=Unknown within the
// grace period, and after the eviction timeout its RerunOnFailure VM moves to the other node while an Always
// VM stays.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { clientFromKubeconfig, EventResource, LeaseResource, NamespaceResource, type ApiClient, type CoreEvent, type Lease } from '../../apis/client/index.ts';
import { NodeResource, VirtualMachineResource, type Node, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { Condition } from '../../apis/meta/types.ts';
import { microTimestamp } from '../../apis/meta/time.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitFor, WaitAborted } from '../env/process.ts';
import { PHOTON_CLI } from '../env/tenants.ts';

const NS = 'sched';
const LEASES = 'photon-node-lease';
const GRACE_MS = 3000;
const LEASE_SECONDS = 1;
const EVICTION_MS = 2000;

let api: TestApiServer;
let client: ApiClient;
let manager: ControllerManager;
/** Nodes whose Lease the test keeps renewing (their "agent" is alive). */
const alive = new Set<string>();
let heartbeat: NodeJS.Timeout | undefined;

const condition = (type: string, status: 'True' | 'False' | 'Unknown', reason: string): Condition => ({ type, status, reason, message: '', lastTransitionTime: new Date().toISOString() });

async function registerNode(name: string, labels: Record<string, string>): Promise<void> {
  await client.create<Node>(NodeResource, { apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Node', metadata: { name, labels }, spec: {} });
  const now = microTimestamp(new Date());
  await client.create<Lease>(LeaseResource, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: LEASES }, spec: { holderIdentity: name, leaseDurationSeconds: LEASE_SECONDS, acquireTime: now, renewTime: now } });
  await markReady(name);
  alive.add(name);
}

/** What the node agent writes when it is healthy. */
async function markReady(name: string): Promise<void> {
  const conditions = [condition('Ready', 'True', 'AgentReady'), condition('HypervisorReady', 'True', 'QemuAvailable'), condition('NetworkReady', 'True', 'ChassisUp')];
  await client.patch<Node>(NodeResource, name, { status: { allocatable: { cpu: 8, memory: '16Gi' }, capacity: { cpu: 8, memory: '16Gi' }, conditions } }, { type: 'merge', subresource: 'status' });
}

async function renewLeases(): Promise<void> {
  for (const name of alive) {
    await client.patch<Lease>(LeaseResource, name, { spec: { renewTime: microTimestamp(new Date()) } }, { type: 'merge', namespace: LEASES }).catch(() => undefined);
  }
}

const vm = (name: string, spec: { cores?: number; memory?: string; runStrategy?: string; nodeSelector?: Record<string, string> } = {}): VirtualMachine => ({
  apiVersion: 'compute.photoncloud.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: NS },
  spec: {
    runStrategy: (spec.runStrategy ?? 'Always') as VirtualMachine['spec']['runStrategy'],
    cpu: { cores: spec.cores ?? 1 },
    memory: spec.memory ?? '1Gi',
    boot: { imageRef: 'debian-12', diskSize: '10Gi' },
    ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
  },
});
const create = (...vms: VirtualMachine[]) => Promise.all(vms.map((object) => client.create<VirtualMachine>(VirtualMachineResource, object)));
const getVm = (name: string) => client.get<VirtualMachine>(VirtualMachineResource, name, { namespace: NS });
const scheduled = (object: VirtualMachine) => object.status?.conditions?.find((c) => c.type === 'Scheduled');
const nodeCondition = (node: Node, type: string) => node.status?.conditions?.find((c) => c.type === type);

/** Waits until the VM is bound (to `node` when given) and returns it. */
const waitBound = (name: string, node?: string, timeoutMs = 20_000) =>
  waitFor(`${name} bound${node ? ` to ${node}` : ''}`, async () => {
    const object = await getVm(name);
    const bound = object.status?.nodeName;
    return bound && (!node || bound === node) && scheduled(object)?.status === 'True' ? object : undefined;
  }, { timeoutMs, intervalMs: 100 });

const waitUnschedulable = (name: string, message: RegExp) =>
  waitFor(`${name} Unschedulable (${message})`, async () => {
    const object = await getVm(name);
    const condition = scheduled(object);
    return !object.status?.nodeName && condition?.status === 'False' && condition.reason === 'Unschedulable' && message.test(condition.message) ? object : undefined;
  }, { timeoutMs: 20_000, intervalMs: 100 });

/** Events are recorded in the background: poll for one. */
const waitForEvent = (vmName: string, reason: string, text: string) =>
  waitFor(`event ${reason} on ${vmName}`, async () => {
    const events = await client.list<CoreEvent>(EventResource, { namespace: NS });
    return events.items.some((event) => event.reason === reason && event.involvedObject?.name === vmName && event.message?.includes(text));
  }, { timeoutMs: 10_000, intervalMs: 100 });

async function deleteAllVms(): Promise<void> {
  const list = await client.list<VirtualMachine>(VirtualMachineResource, { namespace: NS });
  await Promise.all(list.items.map((item) => client.delete(VirtualMachineResource, item.metadata.name!, { namespace: NS })));
  await waitFor('no VMs left', async () => (await client.list(VirtualMachineResource, { namespace: NS })).items.length === 0, { timeoutMs: 20_000, intervalMs: 100 });
}

const photon = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', PHOTON_CLI, ...args], { env: { ...process.env, KUBECONFIG: api.kubeconfig } });

beforeAll(async () => {
  api = await startTestApiServer({ storage: 'etcd' });
  client = clientFromKubeconfig(api.kubeconfig, { component: 'scheduler-test' });
  manager = startControllerManager({
    kubeconfig: api.kubeconfig,
    ovnNorthbound: 'unix:/nonexistent',
    leaderElect: false,
    controllers: ['scheduler', 'node-lifecycle'],
    nodeLifecycle: { nodeMonitorGracePeriodMs: GRACE_MS, evictionTimeoutMs: EVICTION_MS },
  });
  await client.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await registerNode('hv-a', { zone: 'a' });
  await registerNode('hv-b', { zone: 'b' });
  heartbeat = setInterval(() => void renewLeases(), 300);
}, 120_000);

afterAll(async () => {
  if (heartbeat) clearInterval(heartbeat);
  await manager?.stop();
  client?.close();
  await api?.stop();
}, 60_000);

describe('scheduler', () => {
  test('VMs created at once spread over both nodes without overcommitting; too many cores is Unschedulable, retried when room appears', async () => {
    // 4 × 4 cores exactly fill two 8-core nodes: only counting placements as soon as they are written keeps a
    // third off either node.
    await create(...['f1', 'f2', 'f3', 'f4'].map((name) => vm(name, { cores: 4 })));
    const placed = await Promise.all(['f1', 'f2', 'f3', 'f4'].map(async (name) => (await waitBound(name)).status!.nodeName));
    expect(placed.filter((node) => node === 'hv-a')).toHaveLength(2);
    expect(placed.filter((node) => node === 'hv-b')).toHaveLength(2);
    expect(scheduled(await getVm('f1'))).toMatchObject({ status: 'True', reason: 'Scheduled', message: `assigned to node ${placed[0]}` });
    await expect(getVm('f1')).resolves.toMatchObject({ status: { nodeName: placed[0] } });

    await deleteAllVms();

    // Back to back onto one node: 3 × 4 cores for hv-a's 8. Without assumed placements the second and third
    // decisions would not see the first (the informer lags the write) and all three would land there.
    const zoneA = ['z1', 'z2', 'z3'];
    await create(...zoneA.map((name) => vm(name, { cores: 4, nodeSelector: { zone: 'a' } })));
    await waitFor('two of three bound, one Unschedulable', async () => {
      const vms = await Promise.all(zoneA.map(getVm));
      const bound = vms.filter((object) => object.status?.nodeName === 'hv-a').length;
      const waiting = vms.filter((object) => scheduled(object)?.reason === 'Unschedulable').length;
      if (bound > 2) throw new WaitAborted(`hv-a overcommitted: ${bound} VMs of 4 cores on 8`); // not even for a moment
      return bound === 2 && waiting === 1;
    }, { timeoutMs: 20_000, intervalMs: 50 });
    await deleteAllVms();
    await create(...['f1', 'f2', 'f3', 'f4'].map((name) => vm(name, { cores: 4 })));
    await Promise.all(['f1', 'f2', 'f3', 'f4'].map((name) => waitBound(name)));

    await create(vm('big', { cores: 64 }));
    const big = await waitUnschedulable('big', /^0\/2 nodes are available: 2 insufficient cpu \(wants 64 cpu, at most 0 free on a node\)$/);
    expect(big.status?.printableStatus).toBeUndefined(); // the virtualmachine controller's field, not the scheduler's
    await create(vm('waiting', { cores: 2 }));
    await waitUnschedulable('waiting', /2 insufficient cpu/);

    // Room appears when a VM goes away: the waiting VM is retried and placed there, the big one still waits.
    const freed = (await getVm('f1')).status!.nodeName!;
    await client.delete(VirtualMachineResource, 'f1', { namespace: NS });
    await waitBound('waiting', freed);
    expect(scheduled(await getVm('big'))).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    await waitForEvent('big', 'FailedScheduling', 'insufficient cpu');
    await deleteAllVms();
  }, 60_000);

  test('a Halted VM waits unscheduled; memory counts; bound VMs are never moved', async () => {
    await create(vm('halted', { runStrategy: 'Halted', cores: 1 }));
    await create(vm('m1', { memory: '12Gi' }));
    const m1 = (await waitBound('m1')).status!.nodeName!;
    // The other node is emptier: the next VM goes there; then 12Gi fits nowhere.
    await create(vm('m2', { memory: '12Gi' }));
    const m2 = (await waitBound('m2')).status!.nodeName!;
    expect(m2).not.toBe(m1);
    await create(vm('m3', { memory: '8Gi' }));
    await waitUnschedulable('m3', /^0\/2 nodes are available: 2 insufficient memory \(wants 8Gi memory, at most 4Gi free on a node\)$/);
    // One worker handles keys in order: the Halted VM was looked at before m1 and left alone.
    const halted = await getVm('halted');
    expect(halted.status?.nodeName).toBeUndefined();
    expect(scheduled(halted)).toBeUndefined();
    expect((await getVm('m1')).status!.nodeName).toBe(m1);
    await deleteAllVms();
  }, 60_000);

  test('nodeSelector and photon cordon / uncordon', async () => {
    await create(vm('pinned', { nodeSelector: { zone: 'b' } }));
    await waitBound('pinned', 'hv-b');
    await create(vm('nowhere', { nodeSelector: { zone: 'c' } }));
    await waitUnschedulable('nowhere', /^0\/2 nodes are available: 2 didn't match the VM's nodeSelector$/);

    expect((await photon('cordon', 'hv-b')).stdout).toContain('node/hv-b cordoned');
    expect((await client.get<Node>(NodeResource, 'hv-b')).spec?.unschedulable).toBe(true);
    // hv-b is emptier (hv-a has nothing, hv-b one VM — both fit: fewer VMs wins) but cordoned: every new VM goes to hv-a.
    await create(...['c1', 'c2', 'c3'].map((name) => vm(name)));
    for (const name of ['c1', 'c2', 'c3']) await waitBound(name, 'hv-a');
    await create(vm('only-b', { nodeSelector: { zone: 'b' } }));
    await waitUnschedulable('only-b', /1 unschedulable \(cordoned\)/);
    expect((await getVm('pinned')).status!.nodeName).toBe('hv-b'); // cordon moves nothing

    expect((await photon('uncordon', 'hv-b')).stdout).toContain('node/hv-b uncordoned');
    await waitBound('only-b', 'hv-b');
    await expect(photon('cordon', 'no-such-node')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('node "no-such-node" not found') });
    await deleteAllVms();
  }, 60_000);
});

describe('node lifecycle', () => {
  test('a node whose Lease stops: Ready Unknown within the grace period; its RerunOnFailure VM moves, an Always VM stays', async () => {
    await create(vm('mover', { runStrategy: 'RerunOnFailure', nodeSelector: { zone: 'a' } }), vm('stays', { nodeSelector: { zone: 'a' } }));
    await waitBound('mover', 'hv-a');
    await waitBound('stays', 'hv-a');
    // Let it move anywhere now (the selector only chose where it started), and report it running as the agent would.
    await client.patch(VirtualMachineResource, 'mover', [{ op: 'remove', path: '/spec/nodeSelector' }], { type: 'json', namespace: NS });
    await client.patch(VirtualMachineResource, 'mover', { status: { runtime: { node: 'hv-a', state: 'Running' } } }, { type: 'merge', namespace: NS, subresource: 'status' });

    // hv-a's agent stops: nothing renews its Lease any more.
    alive.delete('hv-a');
    const lost = Date.now();
    const node = await waitFor('hv-a Ready=Unknown', async () => {
      const current = await client.get<Node>(NodeResource, 'hv-a');
      const ready = nodeCondition(current, 'Ready');
      return ready?.status === 'Unknown' && ready.reason === 'NodeStatusUnknown' ? current : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });
    // Lease duration + grace period after the last renewal, plus a requeue's slack.
    expect(Date.now() - lost).toBeLessThan(LEASE_SECONDS * 1000 + GRACE_MS + 3000);
    expect(nodeCondition(node, 'Ready')!.message).toMatch(/^node agent stopped posting status/);
    for (const type of ['HypervisorReady', 'NetworkReady']) expect(nodeCondition(node, type)).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' });
    expect(node.status?.allocatable).toEqual({ cpu: 8, memory: '16Gi' }); // the rest of the agent's status is kept
    // hv-b keeps heartbeating and stays Ready.
    expect(nodeCondition(await client.get<Node>(NodeResource, 'hv-b'), 'Ready')?.status).toBe('True');

    // After the eviction timeout the RerunOnFailure VM is released and placed on the only Ready node.
    const moved = await waitBound('mover', 'hv-b', 20_000);
    expect(moved.status?.runtime).toBeUndefined(); // the dead node's report is gone
    const stays = await getVm('stays');
    expect(stays.status?.nodeName).toBe('hv-a');
    await waitForEvent('mover', 'NodeLost', 'hv-a');

    // A new VM skips the not-Ready node.
    await create(vm('new'));
    await waitBound('new', 'hv-b');

    // The agent comes back: it renews and writes Ready=True itself; the controller leaves that alone and
    // the node takes VMs again.
    alive.add('hv-a');
    await renewLeases();
    await markReady('hv-a');
    await create(vm('back'));
    await waitBound('back', 'hv-a');
    expect(nodeCondition(await client.get<Node>(NodeResource, 'hv-a'), 'Ready')?.status).toBe('True');
    await deleteAllVms();
  }, 60_000);
});
