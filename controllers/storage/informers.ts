// The shared informers the storage controllers read: classes, Volumes, their snapshots, the VMs that attach them,
// the Images they are made from and the Nodes local Volumes live on.
import { ImageResource, NodeResource, VirtualMachineResource, type Image, type Node, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { StorageClassResource, VolumeResource, VolumeSnapshotResource, type StorageClass, type Volume, type VolumeSnapshot } from '../../apis/storage/v1alpha1/index.ts';
import type { InformerCache } from '../runtime/informer.ts';

export type StorageClassObject = StorageClass & KubeObject;
export type VolumeObject = Volume & KubeObject;
export type VolumeSnapshotObject = VolumeSnapshot & KubeObject;

export function storageInformers(informers: InformerCache) {
  return {
    storageClasses: informers.informerFor<StorageClassObject>(StorageClassResource),
    volumes: informers.informerFor<VolumeObject>(VolumeResource),
    snapshots: informers.informerFor<VolumeSnapshotObject>(VolumeSnapshotResource),
    virtualMachines: informers.informerFor<VirtualMachine>(VirtualMachineResource),
    images: informers.informerFor<Image>(ImageResource),
    /** Where local Volumes live: a Volume on a Node that is gone is gone with it. */
    nodes: informers.informerFor<Node>(NodeResource),
  };
}

export type StorageInformers = ReturnType<typeof storageInformers>;
