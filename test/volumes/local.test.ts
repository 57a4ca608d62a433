// Local Volumes (StorageClass backend local): a qcow2 file on one node, made by that node's real agent (with node
// credentials: it reads and reports only on what is kept on it) once the first VM holding the Volume is
// scheduled. A guest writes a marker; the Volume is unplugged and a second VM — which the scheduler would spread to
// the other node — is pinned to the Volume's node and reads the marker; growth goes through the running QEMU;
// a snapshot is a qcow2 internal snapshot taken over QMP while the guest runs, restored into a new Volume on the
// same node and hot-plugged; deletion waits for the VM, then removes snapshots and the file.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { agentPaths } from '../../agents/node/agent.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { VolumeResource, VolumeSnapshotResource, type Volume, type VolumeSnapshot } from '../../apis/storage/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { COMPUTE_CONTROLLERS, consoleOf, guestImages, guestVm, startComputeEnv, waitConsole, waitVmStatus, type ComputeEnv, type TestAgent } from '../env/compute.ts';
import { waitFor } from '../env/process.ts';
import { manifest } from '../env/tenants.ts';
import { volumeTools } from './vm-harness.ts';

const run = promisify(execFile);
const NS = 'acme';
const MI = 1024 * 1024;
let env: ComputeEnv;
let agents: TestAgent[];

const { storage, apply, patchVm, getVolume, waitVolume, isReady } = volumeTools(() => env, NS);
const gone = (resource: typeof VolumeResource | typeof VolumeSnapshotResource, name: string) => env.client.get(resource, name, { namespace: NS }).then(() => false, (error) => error.code === 404);

/** The file of a local Volume on the node keeping it, and what qemu-img says about it (-U: QEMU may hold it). */
const fileOf = (volume: Volume) => path.join(agentPaths(agents.find((agent) => agent.name === volume.status!.backend!.node)!.stateDir).volumes, volume.status!.backend!.image!);
async function qemuImgInfo(file: string): Promise<{ 'virtual-size': number; snapshots?: Array<{ name: string }> }> {
  return JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', file])).stdout);
}

beforeAll(async () => {
  env = await startComputeEnv({ controllers: [...COMPUTE_CONTROLLERS, 'storageclass', 'volume', 'volumesnapshot'] });
  agents = [await env.startAgent('hv-1'), await env.startAgent('hv-2')];
  await env.namespace(NS);
  await apply(...guestImages(env, NS), storage('StorageClass', 'node-local', { backend: 'local' }));
}, 180_000);

afterAll(async () => {
  await env?.stop();
}, 120_000);

describe('local Volumes', () => {
  test('made on the node of its first VM; a second VM is pinned there and reads the marker; grown through the running QEMU', async () => {
    await apply(storage('Volume', 'scratch', { size: '32Mi', storageClassName: 'node-local' }));
    const waiting = await waitVolume('waiting for a consumer', 'scratch', (volume) => findCondition(volume.status?.conditions, 'Ready')?.reason === 'WaitingForFirstConsumer');
    expect(waiting.status?.backend).toBeUndefined();

    await apply(guestVm(NS, 'writer', { volumes: [{ name: 'data', volumeRef: 'scratch' }], userData: 'write marker-7\n' }));
    const writer = await waitVmStatus(env, NS, 'writer', 'Running', 120_000);
    await waitConsole(env, NS, 'writer', 'photon-guest: disk=marker-7');
    const bound = await getVolume('scratch');
    expect(bound.status?.backend).toEqual({ type: 'local', node: writer.status!.nodeName, image: expect.stringMatching(/^vol-[0-9a-f]{32}\.qcow2$/) });
    expect(bound.status?.local).toEqual({ made: true, sizeBytes: 32 * MI });
    expect(bound.status?.attachedTo).toMatchObject({ virtualMachine: 'writer', node: writer.status!.nodeName });
    expect(writer.status?.volumes).toEqual([{ name: 'data', volumeRef: 'scratch', attachable: true, file: bound.status!.backend!.image, capacityBytes: 32 * MI, node: writer.status!.nodeName }]);
    // The file, on that node only.
    expect((await qemuImgInfo(fileOf(bound)))['virtual-size']).toBe(32 * MI);
    const other = agents.find((agent) => agent.name !== writer.status!.nodeName)!;
    expect(fs.existsSync(path.join(agentPaths(other.stateDir).volumes, bound.status!.backend!.image!))).toBe(false);
    expect(kubectlOk(await env.api.kubectl(['get', 'volumes', '-n', NS]))).toMatch(/\nscratch\s+InUse\s+32Mi\s+node-local\s+writer\s+True/);

    // Unplugged from the writer, it goes to the reader — which the scheduler would spread to the emptier node but
    // must place beside the file.
    await patchVm('writer', [{ op: 'remove', path: '/spec/volumes' }], 'json');
    await waitConsole(env, NS, 'writer', 'photon-guest: disk-removed=vda');
    await apply(guestVm(NS, 'reader', { volumes: [{ name: 'data', volumeRef: 'scratch' }] }));
    const reader = await waitVmStatus(env, NS, 'reader', 'Running', 120_000);
    expect(reader.status?.nodeName).toBe(writer.status!.nodeName);
    await waitConsole(env, NS, 'reader', 'photon-guest: disk=marker-7');

    // Grown while a running VM holds it: QEMU grows the file (block_resize) and the guest is told; the agent reports.
    kubectlOk(await env.api.kubectl(['patch', 'volume', 'scratch', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { size: '48Mi' } })]));
    await waitConsole(env, NS, 'reader', 'photon-guest: disk-resized=vda sectors=98304');
    const grown = await waitVolume('grown to 48Mi', 'scratch', (volume) => volume.status?.capacityBytes === 48 * MI && isReady(volume));
    expect(grown.status?.capacity).toBe('48Mi');
    expect((await qemuImgInfo(fileOf(grown)))['virtual-size']).toBe(48 * MI);
  }, 420_000);

  test('a snapshot taken while the guest runs is restored into a new Volume on the same node and hot-plugged', async () => {
    await apply(storage('VolumeSnapshot', 'scratch-snap', { volumeRef: 'scratch' }));
    const snapshot = await waitFor('the snapshot ready', async () => {
      const current = await env.client.get<VolumeSnapshot>(VolumeSnapshotResource, 'scratch-snap', { namespace: NS });
      return current.status?.readyToUse ? current : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    const source = await getVolume('scratch');
    expect(snapshot.status).toMatchObject({ node: source.status!.backend!.node, restoreSize: '48Mi', restoreSizeBytes: 48 * MI, snapshotHandle: `${source.status!.backend!.image}@${snapshot.status!.snapshotHandle!.split('@')[1]}` });
    expect((await qemuImgInfo(fileOf(source))).snapshots?.map((entry) => entry.name)).toEqual([snapshot.status!.snapshotHandle!.split('@')[1]]);

    // Too small a restore can never hold the snapshot's data: it waits saying so; at the right size it is made.
    await apply(storage('Volume', 'copy', { size: '48Mi', storageClassName: 'node-local', source: { snapshotRef: 'scratch-snap' } }));
    const copy = await waitVolume('Ready', 'copy', isReady);
    expect(copy.status?.backend).toMatchObject({ type: 'local', node: source.status!.backend!.node, restoreFrom: { image: source.status!.backend!.image, snapshot: snapshot.status!.snapshotHandle!.split('@')[1] } });
    const copyInfo = await qemuImgInfo(fileOf(copy));
    expect(copyInfo['virtual-size']).toBe(48 * MI);
    expect(copyInfo.snapshots).toBeUndefined();

    await patchVm('reader', { spec: { volumes: [{ name: 'data', volumeRef: 'scratch' }, { name: 'copy', volumeRef: 'copy' }] } });
    await waitFor('the guest sees the restored Volume', async () => /photon-guest: disk-added=(vd[a-z]+) serial=copy sectors=98304 text=marker-7/.exec(await consoleOf(env, NS, 'reader')), { timeoutMs: 90_000, intervalMs: 500 });
  }, 240_000);

  test('deletion waits for the VM, then removes the snapshot and the file; bad specs are refused naming the field', async () => {
    const scratch = await getVolume('scratch');
    const copy = await getVolume('copy');
    kubectlOk(await env.api.kubectl(['delete', 'volume', 'scratch', 'copy', '-n', NS, '--wait=false']));
    const blocked = await waitVolume('blocked', 'scratch', (volume) => findCondition(volume.status?.conditions, 'DeletionBlocked')?.reason === 'AttachedToVirtualMachine');
    expect(findCondition(blocked.status?.conditions, 'DeletionBlocked')?.message).toMatch(/attached to VirtualMachine reader/);
    expect(fs.existsSync(fileOf(scratch))).toBe(true);

    kubectlOk(await env.api.kubectl(['delete', 'virtualmachine', 'reader', '-n', NS, '--wait=true', '--timeout=120s']));
    await waitFor('both Volumes and the snapshot deleted', async () => (await gone(VolumeResource, 'scratch')) && (await gone(VolumeResource, 'copy')) && (await gone(VolumeSnapshotResource, 'scratch-snap')), { timeoutMs: 90_000, intervalMs: 500 }).catch(async (error) => {
      // What is left and why, in the failure.
      const left = kubectlOk(await env.api.kubectl(['get', 'volumes,volumesnapshots', '-n', NS, '-o', 'json']));
      throw new Error(`${error.message}\n${left}`);
    });
    expect(fs.existsSync(fileOf(scratch))).toBe(false);
    expect(fs.existsSync(fileOf(copy))).toBe(false);

    const refused = await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(storage('Volume', 'from-image', { size: '64Mi', storageClassName: 'node-local', source: { imageRef: 'guest-kernel' } })) });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/spec\.source\.imageRef.*local/);
    expect(await gone(VolumeResource, 'from-image')).toBe(true);
  }, 240_000);
});
