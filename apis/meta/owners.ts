// Owner references: who controls an object (and so deletes it with itself through the garbage collector).
import type { KubeObject, OwnerReference } from './types.ts';

/** Whether `owner` is the controller of `object` (by UID: a re-created owner of the same name is another). */
export const isControlledBy = (object: KubeObject, owner: KubeObject): boolean => (object.metadata.ownerReferences ?? []).some((reference) => reference.controller && reference.uid === owner.metadata.uid);

/** The reference that makes `owner` the controller of a new object (deleted with it; blocks foreground deletion). */
export const controllerReference = (owner: KubeObject): OwnerReference => ({ apiVersion: owner.apiVersion!, kind: owner.kind!, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true });
