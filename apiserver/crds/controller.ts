// Serves what CustomResourceDefinition objects describe. Every server runs this against its own watch
// cache, so all servers' registries follow the same objects:
//   - a CRD appears or changes → its versions are (re)registered at once (discovery, OpenAPI, storage);
//     status then reports NamesAccepted/Established;
//   - a CRD being deleted → its custom objects are deleted (their finalizers honoured), then the cleanup
//     finalizer goes and the CRD with it; when the object is gone its resources are unregistered.
// Level-based: every pass looks at the CRD as it is now, so a restart anywhere resumes the work.
import type { KubeObject } from '../../apis/meta/types.ts';
import { errorMessage, type Logger } from '../../apis/logging.ts';
import { isGoneOrChanged } from '../errors.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import { resourcesFromCrd, type CustomResourceDefinition } from '../registry/crd.ts';
import { deleteUnlessDeleting, withTransitionTimes, type ObjectStore } from '../registry/object-store.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import type { WatchCache } from '../watch/cache.ts';
import { CacheSubscription } from '../watch/subscription.ts';
import { CRD_CLEANUP_FINALIZER } from './resource.ts';

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

const RETRY_MS = 500;

export class CrdController {
  private readonly subscription: CacheSubscription;
  private readonly pending = new Map<string, NodeJS.Timeout | undefined>();
  private readonly running = new Set<string>();
  /** Why a CRD could not be served (name clash, bad schema), reported in its status. */
  private readonly problems = new Map<string, string>();
  private stopped = false;

  constructor(
    private readonly crds: ResourceInfo,
    private readonly registry: ResourceRegistry,
    private readonly objects: ObjectStore,
    private readonly cache: WatchCache,
    private readonly log: Logger,
  ) {
    this.subscription = new CacheSubscription(cache, crds.storagePrefix, (event) => {
      const name = event.object.metadata.name!;
      if (event.type === 'DELETED') {
        this.registry.removeSource(name);
        this.problems.delete(name);
        return;
      }
      this.serve(event.object as unknown as CustomResourceDefinition);
      this.schedule(name, 0);
    }, log);
  }

  /** Registers every stored CRD (synchronously, before the server listens) and follows changes. */
  start(): void {
    this.subscription.start();
  }

  stop(): void {
    this.stopped = true;
    this.subscription.stop();
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }

  private serve(crd: CustomResourceDefinition): void {
    const name = crd.metadata.name;
    try {
      const { resources, warnings } = resourcesFromCrd(crd);
      this.registry.setSource(name, resources);
      for (const warning of warnings) this.log.warn(warning);
      this.problems.delete(name);
    } catch (error) {
      // A clash with another CRD or a built-in keeps the previous registration (if any) and is reported.
      this.problems.set(name, errorMessage(error));
      this.log.warn('cannot serve CustomResourceDefinition', { crd: name, error: errorMessage(error) });
    }
  }

  private schedule(name: string, delayMs: number): void {
    if (this.stopped) return;
    if (this.running.has(name)) {
      this.pending.set(name, undefined); // run again after the current pass
      return;
    }
    clearTimeout(this.pending.get(name));
    this.pending.set(name, setTimeout(() => void this.run(name), delayMs));
  }

  private async run(name: string): Promise<void> {
    this.pending.delete(name);
    this.running.add(name);
    let retry = false;
    try {
      const current = this.cache.get(`${this.crds.storagePrefix}${name}`)?.object;
      if (current?.metadata.deletionTimestamp) retry = await this.cleanUp(current);
      else if (current) await this.writeStatus(current);
    } catch (error) {
      if (!isGoneOrChanged(error)) this.log.warn('CustomResourceDefinition pass failed', { crd: name, error: errorMessage(error) });
      retry = true;
    } finally {
      this.running.delete(name);
    }
    if (retry || this.pending.has(name)) this.schedule(name, retry ? RETRY_MS : 0);
  }

  private conditions(crd: KubeObject, problem: string | undefined, terminating: boolean): Condition[] {
    const accepted: Condition = problem
      ? { type: 'NamesAccepted', status: 'False', reason: 'NotAccepted', message: problem }
      : { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' };
    const established: Condition = problem
      ? { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' }
      : { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' };
    const list = [accepted, established];
    if (terminating) list.push({ type: 'Terminating', status: 'True', reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' });
    return withTransitionTimes((crd.status as { conditions?: Condition[] } | undefined)?.conditions, list);
  }

  /** Writes NamesAccepted/Established (only when they change). */
  private async writeStatus(crd: KubeObject): Promise<void> {
    const spec = (crd as unknown as CustomResourceDefinition).spec;
    const problem = this.problems.get(crd.metadata.name!);
    await this.objects.guaranteedUpdate(this.crds, undefined, crd.metadata.name!, defaultWriteOptions(), (current) => {
      const status = (current.status ?? {}) as { storedVersions?: string[] };
      const storage = spec.versions.find((version) => version.storage)?.name;
      const storedVersions = [...new Set([...(status.storedVersions ?? []), ...(storage ? [storage] : [])])];
      return {
        ...current,
        status: { conditions: this.conditions(current, problem, false), acceptedNames: problem ? (current.status as { acceptedNames?: unknown } | undefined)?.acceptedNames ?? {} : spec.names, storedVersions },
      };
    }, { subresource: 'status' });
  }

  /** Deletes the CRD's objects; once none is left, releases the CRD. Returns whether to come back. */
  private async cleanUp(crd: KubeObject): Promise<boolean> {
    const name = crd.metadata.name!;
    if (!(crd.metadata.finalizers ?? []).includes(CRD_CLEANUP_FINALIZER)) return false;
    const resource = this.registry.all().find((candidate) => candidate.source === name);
    const remaining = resource ? this.cache.list(resource.storagePrefix) : [];
    for (const { object } of remaining) await deleteUnlessDeleting(this.objects, resource!, object, defaultWriteOptions());
    if (remaining.length > 0) {
      await this.objects.guaranteedUpdate(this.crds, undefined, name, defaultWriteOptions(), (current) => ({
        ...current,
        status: { ...(current.status as object), conditions: this.conditions(current, this.problems.get(name), true) },
      }), { subresource: 'status' });
      return true;
    }
    this.log.info('custom objects removed; releasing CustomResourceDefinition', { crd: name });
    await this.objects.guaranteedUpdate(this.crds, undefined, name, defaultWriteOptions(), (current) => ({
      ...current,
      metadata: { ...current.metadata, finalizers: (current.metadata.finalizers ?? []).filter((finalizer) => finalizer !== CRD_CLEANUP_FINALIZER) },
    }));
    return false;
  }
}
