// Helpers of the tests that attach Volumes to real VMs (attach.test.ts on Ceph, local.test.ts on a node's disk):
// manifests applied with kubectl as a user would, VM patches, and polling a Volume until a check holds.
import { findCondition } from '../../apis/meta/conditions.ts';
import { VolumeResource, type Volume } from '../../apis/storage/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import type { ComputeEnv } from '../env/compute.ts';
import { waitFor } from '../env/process.ts';
import { manifest } from '../env/tenants.ts';

export function volumeTools(env: () => ComputeEnv, namespace: string) {
  const getVolume = (name: string) => env().client.get<Volume>(VolumeResource, name, { namespace });
  const waitVolume = (what: string, name: string, check: (volume: Volume) => boolean, timeoutMs = 60_000) =>
    waitFor(`Volume ${name} ${what}`, async () => {
      const volume = await getVolume(name);
      return check(volume) ? volume : undefined;
    }, { timeoutMs, intervalMs: 250 });
  const isReady = (volume: Volume) => findCondition(volume.status?.conditions, 'Ready')?.status === 'True' && volume.status?.observedGeneration === volume.metadata.generation;
  return {
    /** A storage.photoncloud.io object (StorageClass cluster-scoped, the others in the namespace). */
    storage: (kind: string, name: string, spec: object) => ({ apiVersion: 'storage.photoncloud.io/v1alpha1', kind, metadata: { name, ...(kind === 'StorageClass' ? {} : { namespace }) }, spec }),
    apply: async (...objects: object[]) => kubectlOk(await env().api.kubectl(['apply', '-f', '-'], { stdin: manifest(...objects) })),
    patchVm: async (name: string, patch: object, type = 'merge') => kubectlOk(await env().api.kubectl(['patch', 'virtualmachine', name, '-n', namespace, '--type', type, '-p', JSON.stringify(patch)])),
    getVolume,
    waitVolume,
    isReady,
    readyVolume: (name: string) => waitVolume('Ready', name, isReady),
  };
}
