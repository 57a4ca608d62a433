// Namespace lifecycle: a deleted namespace turns Terminating; this loop deletes everything in it (objects
// with finalizers wait for their controllers), reports what remains in the namespace's conditions, and
// finally removes the `kubernetes` finalizer so the namespace itself goes. Level-based: it scans all
// terminating namespaces on every pass, so a restart in the middle resumes where it stopped.
import type { KubeObject } from '../../apis/meta/types.ts';
import { createLogger, type Logger } from '../../lib/logging.ts';
import { PeriodicTask } from '../../lib/periodic.ts';
import { ApiError, isGoneOrChanged } from '../errors.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import { NAMESPACE_FINALIZER } from '../registry/builtins/namespaces.ts';
import { withTransitionTimes } from '../../apis/meta/conditions.ts';
import { deleteUnlessDeleting, type ObjectStore } from '../registry/object-store.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import { groupResource, listPrefix, type ResourceInfo } from '../registry/resource.ts';
import type { WatchCache } from '../watch/cache.ts';

interface Remaining {
  resources: Map<string, number>;
  finalizers: Map<string, number>;
}

export class NamespaceLifecycle {
  private readonly loop: PeriodicTask;
  private readonly log: Logger;

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly objects: ObjectStore,
    private readonly cache: WatchCache,
    intervalMs = 1000,
    logger?: Logger,
  ) {
    this.log = logger ?? createLogger('namespace-lifecycle');
    this.loop = new PeriodicTask('namespace lifecycle', intervalMs, () => this.pass(), this.log);
  }

  private namespaces(): ResourceInfo {
    const resource = this.registry.get('', 'v1', 'namespaces');
    if (!resource) throw new Error('namespaces are not registered');
    return resource;
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** One level-based pass over every terminating namespace. */
  async pass(): Promise<void> {
    const resource = this.namespaces();
    const terminating = this.cache.list(resource.storagePrefix).map((entry) => entry.object).filter((object) => object.metadata.deletionTimestamp);
    for (const namespace of terminating) await this.finalize(namespace);
  }

  private async finalize(namespace: KubeObject): Promise<void> {
    const name = namespace.metadata.name!;
    const remaining: Remaining = { resources: new Map(), finalizers: new Map() };
    const seenPrefixes = new Set<string>();
    for (const resource of this.registry.all()) {
      if (!resource.namespaced || seenPrefixes.has(resource.storagePrefix)) continue;
      seenPrefixes.add(resource.storagePrefix);
      for (const entry of this.cache.list(listPrefix(resource, name))) {
        const object = entry.object;
        remaining.resources.set(groupResource(resource), (remaining.resources.get(groupResource(resource)) ?? 0) + 1);
        for (const finalizer of object.metadata.finalizers ?? []) remaining.finalizers.set(finalizer, (remaining.finalizers.get(finalizer) ?? 0) + 1);
        await deleteUnlessDeleting(this.objects, resource, object, defaultWriteOptions());
      }
    }
    if (remaining.resources.size > 0) {
      await this.reportRemaining(namespace, remaining);
      return;
    }
    this.log.info('namespace is empty; finalizing', { namespace: name });
    try {
      await this.objects.guaranteedUpdate(this.namespaces(), undefined, name, defaultWriteOptions(), (current) => {
        const spec = (current.spec ?? {}) as { finalizers?: string[] };
        return { ...current, spec: { ...spec, finalizers: (spec.finalizers ?? []).filter((finalizer) => finalizer !== NAMESPACE_FINALIZER) } };
      }, { subresource: 'finalize' });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  }

  private async reportRemaining(namespace: KubeObject, remaining: Remaining): Promise<void> {
    const describe = (counts: Map<string, number>, noun: string) =>
      [...counts.entries()].sort().map(([name, count]) => `${name} has ${count} ${noun}`).join(', ');
    const conditions = [
      {
        type: 'NamespaceContentRemaining',
        status: 'True',
        reason: 'SomeResourcesRemain',
        message: `Some resources are remaining: ${describe(remaining.resources, 'resource instances')}`,
      },
      remaining.finalizers.size > 0
        ? { type: 'NamespaceFinalizersRemaining', status: 'True', reason: 'SomeFinalizersRemain', message: `Some content in the namespace has finalizers remaining: ${describe(remaining.finalizers, 'resource instances')}` }
        : { type: 'NamespaceFinalizersRemaining', status: 'False', reason: 'ContentHasNoFinalizers', message: 'All content-preserving finalizers finished' },
    ];
    try {
      await this.objects.guaranteedUpdate(this.namespaces(), undefined, namespace.metadata.name!, defaultWriteOptions(), (current) => {
        const status = (current.status ?? {}) as { conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> };
        return { ...current, status: { ...status, conditions: withTransitionTimes(status.conditions, conditions) } };
      }, { subresource: 'status' });
    } catch (error) {
      if (!isGoneOrChanged(error)) throw error;
    }
  }
}
