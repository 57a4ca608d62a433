// The ownership graph the garbage collector works from: every object it has seen, by UID, and for every
// owner UID the objects that name it in their ownerReferences. Pure bookkeeping, fed by informers.
import type { ResourceRef } from '../../apis/client/index.ts';
import type { KubeObject, OwnerReference } from '../../apis/meta/types.ts';

export interface GraphNode {
  uid: string;
  resource: ResourceRef;
  namespace?: string;
  name: string;
  owners: OwnerReference[];
  deleting: boolean;
  finalizers: string[];
}

/**
 * Whether an update leaves everything the graph keeps of an object as it was: its owner references, whether it is
 * being deleted, its finalizers. Nothing the collector decides for it, or for its owners, can have changed then
 * (a status write, a spec or label change): Kubernetes' graph builder ignores such updates too.
 */
export function sameGraphView(oldObject: KubeObject, newObject: KubeObject): boolean {
  const before = oldObject.metadata;
  const after = newObject.metadata;
  return (
    before.uid === after.uid &&
    (before.deletionTimestamp === undefined) === (after.deletionTimestamp === undefined) &&
    sameList(before.finalizers, after.finalizers) &&
    sameOwners(before.ownerReferences, after.ownerReferences)
  );
}

const sameList = (a: readonly string[] = [], b: readonly string[] = []) => a.length === b.length && a.every((value, index) => value === b[index]);

function sameOwners(a: readonly OwnerReference[] = [], b: readonly OwnerReference[] = []): boolean {
  if (a.length !== b.length) return false;
  return a.every((reference, index) => {
    const other = b[index]!;
    return reference.uid === other.uid && reference.name === other.name && reference.kind === other.kind && reference.apiVersion === other.apiVersion && reference.controller === other.controller && reference.blockOwnerDeletion === other.blockOwnerDeletion;
  });
}

export class OwnershipGraph {
  private readonly nodes = new Map<string, GraphNode>();
  private readonly dependents = new Map<string, Set<string>>();

  upsert(resource: ResourceRef, object: KubeObject): GraphNode | undefined {
    const uid = object.metadata.uid;
    if (!uid) return undefined;
    const previous = this.nodes.get(uid);
    if (previous) for (const owner of previous.owners) this.dependents.get(owner.uid)?.delete(uid);
    const node: GraphNode = {
      uid,
      resource,
      namespace: object.metadata.namespace,
      name: object.metadata.name!,
      owners: object.metadata.ownerReferences ?? [],
      deleting: object.metadata.deletionTimestamp !== undefined,
      finalizers: object.metadata.finalizers ?? [],
    };
    this.nodes.set(uid, node);
    for (const owner of node.owners) {
      if (!this.dependents.has(owner.uid)) this.dependents.set(owner.uid, new Set());
      this.dependents.get(owner.uid)!.add(uid);
    }
    return node;
  }

  remove(uid: string): GraphNode | undefined {
    const node = this.nodes.get(uid);
    if (!node) return undefined;
    this.nodes.delete(uid);
    for (const owner of node.owners) {
      const set = this.dependents.get(owner.uid);
      set?.delete(uid);
      if (set?.size === 0) this.dependents.delete(owner.uid);
    }
    return node;
  }

  get(uid: string): GraphNode | undefined {
    return this.nodes.get(uid);
  }

  /**
   * Objects that name `uid` as an owner. A namespaced owner has dependents in its own namespace only: a
   * reference from another namespace (a UID copied from elsewhere) is no ownership, so it can neither block
   * the owner's foreground deletion nor be deleted with it. Ownership never crosses a namespace (or tenant).
   */
  dependentsOf(uid: string): GraphNode[] {
    const owner = this.nodes.get(uid);
    return [...(this.dependents.get(uid) ?? [])]
      .map((dependent) => this.nodes.get(dependent))
      .filter((node): node is GraphNode => node !== undefined && (!owner?.namespace || node.namespace === owner.namespace));
  }

  uids(): string[] {
    return [...this.nodes.keys()];
  }

  get size(): number {
    return this.nodes.size;
  }
}
