// The shared informers the storage controllers read: classes, Volumes, their snapshots, the VMs that attach them and the Images they are made from.
import { ImageResource, VirtualMachineResource, type Image, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
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
  };
}

export type StorageInformers = ReturnType<typeof storageInformers>;
