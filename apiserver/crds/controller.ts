// Serves what CustomResourceDefinition objects describe. Every server runs this against its own watch
// cache, so all servers' registries follow the same objects:
//   - a CRD appears or changes → it is checked as admission would check it (it may have been stored before
//     today's rules, or bypassed them) and its versions are (re)registered at once (discovery, OpenAPI,
//     storage); status then reports NamesAccepted/Established, and a CRD that cannot be served gets both
//     False with the reason, a warning in the log and a Warning Event;
//   - a CRD being deleted → the objects of the resources it serves are deleted (their finalizers honoured),
//     then the cleanup finalizer goes and the CRD with it; when the object is gone its resources are
//     unregistered. A CRD that serves nothing (refused, invalid) deletes nothing.
// Level-based: every pass looks at the CRD as it is now, so a restart anywhere resumes the work. A problem
// only a change of the CRD can fix is not retried: the change itself brings the CRD back.
import type { KubeObject } from '../../apis/meta/types.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import type { JSONSchemaProps } from '../schema/structural-schema.ts';
import { ObjectSchema } from '../schema/schema-validator.ts';
import { ApiError, invalid, isGoneOrChanged } from '../errors.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import { resourcesFromCrd, type CustomResourceDefinition } from '../registry/crd.ts';
import { withTransitionTimes } from '../../apis/meta/conditions.ts';
import { deleteUnlessDeleting, type ObjectStore } from '../registry/object-store.ts';
import { BUILTIN_SOURCE, ResourceConflict, type ResourceRegistry } from '../registry/registry.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import type { CacheEvent, WatchCache } from '../watch/cache.ts';
import { CacheSubscription } from '../watch/subscription.ts';
import { recordCrdWarning } from './events.ts';
import { CRD_CLEANUP_FINALIZER, hasCrdShape } from './resource.ts';

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

/** Why a CRD is not served: the NamesAccepted reason and a message. */
export interface CrdProblem {
  reason: string;
  message: string;
}

/** Backoff after a failed pass (storage unavailable, a lost race): doubling from the first to the last. */
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 60_000;
/** How often a deleted CRD looks again while its objects wait on their own finalizers. */
const CLEANUP_POLL_MS = 1000;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function finalizersOf(object: KubeObject): string[] {
  const finalizers: unknown = object.metadata.finalizers;
  return Array.isArray(finalizers) ? finalizers.filter((finalizer): finalizer is string => typeof finalizer === 'string') : [];
}

/** Failures that retrying cannot fix (the object itself is refused): only a change to the CRD can. */
function isPermanent(error: unknown): boolean {
  return error instanceof ApiError && [400, 403, 413, 422].includes(error.code);
}

/**
 * The CRD resource as this controller writes it: metadata and status only, so the spec is not validated.
 * Kubernetes validates only the status on a status update; here the generic admission validates the whole
 * object, which would refuse every condition (and the finalizer's removal) on a CRD whose stored spec no
 * longer validates — exactly the CRDs that most need a condition and must still be deletable.
 */
function metadataAndStatusWriter(crds: ResourceInfo): ResourceInfo {
  const openAPISchema: JSONSchemaProps = {
    ...crds.openAPISchema,
    properties: { ...crds.openAPISchema.properties, spec: { 'x-kubernetes-preserve-unknown-fields': true } as JSONSchemaProps },
  };
  delete openAPISchema.required;
  return { ...crds, openAPISchema, schema: new ObjectSchema(openAPISchema), strategy: {} };
}

/** A CRD as the controller sees it: the name it is stored under (its identity) and the stored object. */
interface StoredCrd {
  name: string;
  object: KubeObject;
}

/** Oldest first (then by name): after a restart, the CRD that held a name first keeps it. */
function byAge(a: StoredCrd, b: StoredCrd): number {
  const created = (crd: StoredCrd) => String(crd.object.metadata?.creationTimestamp ?? '');
  return created(a).localeCompare(created(b)) || a.name.localeCompare(b.name);
}

export class CrdController {
  private readonly subscription: CacheSubscription;
  private readonly writer: ResourceInfo;
  private readonly pending = new Map<string, NodeJS.Timeout | undefined>();
  private readonly running = new Set<string>();
  /** Why a CRD cannot be served (invalid, or a name clash), reported in its status. */
  private readonly problems = new Map<string, CrdProblem>();
  /** The problem last logged and recorded as an Event per CRD: each is reported once, not every pass. */
  private readonly announced = new Map<string, string>();
  /** CRDs this controller registered in the registry: the only sources it ever removes or cleans up. */
  private readonly served = new Set<string>();
  /** Failed passes in a row per CRD (for the backoff). */
  private readonly failures = new Map<string, number>();
  /** The initial listing, collected to be served oldest first. */
  private initial?: StoredCrd[];
  private stopped = false;

  constructor(
    private readonly crds: ResourceInfo,
    private readonly registry: ResourceRegistry,
    private readonly objects: ObjectStore,
    private readonly cache: WatchCache,
    private readonly log: Logger,
  ) {
    this.writer = metadataAndStatusWriter(crds);
    this.subscription = new CacheSubscription(cache, crds.storagePrefix, (event) => this.onEvent(event), log);
  }

  /** Registers every stored CRD (synchronously, before the server listens) and follows changes. */
  start(): void {
    this.initial = [];
    this.subscription.start();
    const listed = this.initial.sort(byAge);
    this.initial = undefined;
    for (const { name, object } of listed) this.changed(name, object);
  }

  stop(): void {
    this.stopped = true;
    this.subscription.stop();
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }

  /** Why a CRD is not served now, if it is not (for tests and diagnostics). */
  problemOf(name: string): CrdProblem | undefined {
    return this.problems.get(name);
  }

  /**
   * The name a CRD is stored under: its identity, since a stored object's metadata.name could claim another
   * CRD's (or 'builtin'). Events of a listing carry no key; the object is then the one stored under its own
   * metadata.name, or it cannot be told apart and is skipped (its next change arrives with its key).
   */
  private storedName(event: CacheEvent): string | undefined {
    if (event.key) return event.key.slice(this.crds.storagePrefix.length);
    const name = event.object.metadata?.name;
    if (typeof name === 'string' && this.cache.get(`${this.crds.storagePrefix}${name}`)?.object === event.object) return name;
    this.log.warn('a stored CustomResourceDefinition is not stored under its metadata.name; ignored until it changes', { name: String(name).slice(0, 256) });
    return undefined;
  }

  private onEvent(event: CacheEvent): void {
    const name = this.storedName(event);
    if (name === undefined) return;
    if (event.type === 'DELETED') this.forget(name);
    else if (this.initial) this.initial.push({ name, object: event.object });
    else this.changed(name, event.object);
  }

  private changed(name: string, object: KubeObject): void {
    this.serve(name, object);
    this.failures.delete(name); // a changed CRD is looked at again at once
    this.schedule(name, 0);
  }

  private forget(name: string): void {
    this.problems.delete(name);
    this.announced.delete(name);
    this.failures.delete(name);
    if (!this.served.delete(name)) return;
    this.registry.removeSource(name);
    this.serveRefused();
  }

  /**
   * Why a stored CRD cannot be served as it is: the CRD schema and admission rules, applied afresh (without
   * the ratcheting user updates get), so a CRD stored before a rule existed is held to it too.
   */
  private invalidity(name: string, object: KubeObject): CrdProblem | undefined {
    if (!isObject(object) || !isObject(object.metadata)) return { reason: 'InvalidObject', message: 'the stored object is not a CustomResourceDefinition' };
    if (object.metadata.name !== name) {
      return { reason: 'InvalidObject', message: `metadata.name ${JSON.stringify(object.metadata.name)} is not the name it is stored under (${JSON.stringify(name)})` };
    }
    // The status is this controller's own output, rewritten whole on the next pass: not a reason to refuse.
    const { status: _status, ...withoutStatus } = object;
    const errors = this.crds.schema.validate(withoutStatus);
    if (errors.length === 0) errors.push(...(this.crds.strategy.validate?.(withoutStatus as KubeObject) ?? []));
    if (errors.length === 0) return undefined;
    return { reason: 'InvalidSpec', message: invalid(this.crds.kind, this.crds.group, name, errors).message };
  }

  /** Registers a valid CRD's versions; the registry refuses names or storage another source holds. */
  private register(name: string, crd: CustomResourceDefinition): CrdProblem | undefined {
    try {
      const { resources, warnings } = resourcesFromCrd(crd);
      this.registry.setSource(name, resources);
      this.served.add(name);
      for (const warning of warnings) this.log.warn(warning);
      return undefined;
    } catch (error) {
      return { reason: error instanceof ResourceConflict ? error.reason : 'InvalidSpec', message: errorMessage(error) };
    }
  }

  /** A CRD that cannot be served keeps what it served before (if anything), as a refused update would. */
  private serve(name: string, object: KubeObject): void {
    const problem = name === BUILTIN_SOURCE ? { reason: 'InvalidObject', message: `${JSON.stringify(name)} is reserved` } : (this.invalidity(name, object) ?? this.register(name, object as unknown as CustomResourceDefinition));
    if (problem) this.problems.set(name, problem);
    else {
      this.problems.delete(name);
      this.serveRefused(); // its names may have changed, freeing some another CRD wants
    }
  }

  /** Serves again, oldest first, the CRDs refused for a name clash, until no more can be served. */
  private serveRefused(): void {
    for (let progress = true; progress; ) {
      progress = false;
      const refused = [...this.problems].filter(([, problem]) => problem.reason.endsWith('Conflict')).map(([name]) => name);
      const stored = refused
        .map((name) => ({ name, object: this.cache.get(`${this.crds.storagePrefix}${name}`)?.object }))
        .filter((crd): crd is StoredCrd => crd.object !== undefined)
        .sort(byAge);
      for (const { name, object } of stored) {
        if (this.register(name, object as unknown as CustomResourceDefinition)) continue;
        this.problems.delete(name);
        this.schedule(name, 0);
        progress = true;
      }
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
    let again: number | undefined;
    try {
      again = await this.pass(name);
      this.failures.delete(name);
    } catch (error) {
      again = this.afterFailure(name, error);
    } finally {
      this.running.delete(name);
    }
    if (this.pending.has(name)) this.schedule(name, 0);
    else if (again !== undefined) this.schedule(name, again);
  }

  /** One look at the CRD as stored now; returns when to look again, if the work is not done. */
  private async pass(name: string): Promise<number | undefined> {
    const current = this.cache.get(`${this.crds.storagePrefix}${name}`)?.object;
    if (!current) return undefined;
    const problem = this.problems.get(name);
    // A stored value that is not even an object with metadata cannot carry a status: it is only reported.
    if (isObject(current) && isObject(current.metadata)) {
      if (current.metadata.deletionTimestamp) {
        if (await this.cleanUp(name, current, problem)) return CLEANUP_POLL_MS;
      } else await this.writeStatus(name, problem);
    }
    await this.announce(name, current, problem);
    return undefined;
  }

  /** Retries with backoff, except what only a change to the CRD can fix (that change brings it back). */
  private afterFailure(name: string, error: unknown): number | undefined {
    if (isPermanent(error)) {
      this.log.warn('CustomResourceDefinition cannot be updated; waiting for it to change', { crd: name, error: errorMessage(error) });
      return undefined;
    }
    if (!isGoneOrChanged(error)) this.log.warn('CustomResourceDefinition pass failed', { crd: name, error: errorMessage(error) });
    const failures = (this.failures.get(name) ?? 0) + 1;
    this.failures.set(name, failures);
    return Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS);
  }

  /** Logs a problem and records it as a Warning Event, once per problem; a CRD that is served again is forgotten. */
  private async announce(name: string, crd: KubeObject, problem: CrdProblem | undefined): Promise<void> {
    if (!problem) {
      this.announced.delete(name);
      return;
    }
    const text = `${problem.reason}: ${problem.message}`;
    if (this.announced.get(name) === text) return;
    this.log.warn('cannot serve CustomResourceDefinition', { crd: name, reason: problem.reason, error: problem.message });
    const uid = isObject(crd) && isObject(crd.metadata) && typeof crd.metadata.uid === 'string' ? crd.metadata.uid : undefined;
    await recordCrdWarning(this.objects, this.registry, { name, uid }, problem.reason, problem.message);
    this.announced.set(name, text);
  }

  private conditions(crd: KubeObject, problem: CrdProblem | undefined, terminating: boolean): Condition[] {
    const accepted: Condition = problem
      ? { type: 'NamesAccepted', status: 'False', reason: problem.reason, message: problem.message }
      : { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' };
    const established: Condition = problem
      ? { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' }
      : { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' };
    const list = [accepted, established];
    if (terminating) list.push({ type: 'Terminating', status: 'True', reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' });
    const previous = isObject(crd.status) && Array.isArray(crd.status.conditions) ? (crd.status.conditions as Condition[]).filter(isObject) : undefined;
    return withTransitionTimes(previous, list);
  }

  /**
   * The status to write: conditions, plus acceptedNames and storedVersions from the spec when it is served.
   * Whatever of the old status is malformed is dropped rather than carried (it would refuse the write).
   */
  private statusOf(current: KubeObject, problem: CrdProblem | undefined, terminating: boolean): Record<string, unknown> {
    const previous = isObject(current.status) ? current.status : {};
    const stored = Array.isArray(previous.storedVersions) ? previous.storedVersions.filter((version): version is string => typeof version === 'string') : [];
    const status: Record<string, unknown> = { conditions: this.conditions(current, problem, terminating), storedVersions: stored };
    if (!problem && hasCrdShape(current)) {
      const storage = current.spec.versions.find((version) => version.storage)?.name;
      status.acceptedNames = current.spec.names;
      status.storedVersions = [...new Set([...stored, ...(storage ? [storage] : [])])];
    } else if (isObject(previous.acceptedNames)) status.acceptedNames = previous.acceptedNames;
    return status;
  }

  /** Writes NamesAccepted/Established (only when they change). */
  private async writeStatus(name: string, problem: CrdProblem | undefined, terminating = false): Promise<void> {
    await this.objects.guaranteedUpdate(this.writer, undefined, name, defaultWriteOptions(), (current) => ({
      ...current,
      status: this.statusOf(current, problem, terminating),
    }), { subresource: 'status' });
  }

  /**
   * The resource whose objects a CRD's deletion deletes: one it serves now, registered by this controller,
   * whose storage no other source uses. The registry refuses shared storage; checked again here because a
   * deletion cannot be undone.
   */
  private ownResource(name: string): ResourceInfo | undefined {
    if (!this.served.has(name)) return undefined;
    const own = this.registry.resourcesOf(name);
    if (own.length === 0) return undefined;
    const prefix = own[0].storagePrefix;
    const shared = this.registry.all().some((resource) => resource.source !== name && resource.storagePrefix === prefix);
    if (shared || own.some((resource) => resource.storagePrefix !== prefix)) {
      this.log.error('CustomResourceDefinition storage is not its own; deleting none of its objects', { crd: name, prefix });
      return undefined;
    }
    return own[0];
  }

  /** Deletes the CRD's objects; once none is left, releases the CRD. Returns whether to come back. */
  private async cleanUp(name: string, crd: KubeObject, problem: CrdProblem | undefined): Promise<boolean> {
    if (!finalizersOf(crd).includes(CRD_CLEANUP_FINALIZER)) return false;
    // A CRD that serves nothing (never accepted, or invalid since it was stored) has no objects of its own:
    // as Kubernetes does for a CRD never established, nothing is deleted.
    const resource = this.ownResource(name);
    const remaining = resource ? this.cache.list(resource.storagePrefix) : [];
    for (const { object } of remaining) await deleteUnlessDeleting(this.objects, resource!, object, defaultWriteOptions());
    if (remaining.length > 0) {
      await this.writeStatus(name, problem, true);
      return true;
    }
    this.log.info(resource ? 'custom objects removed; releasing CustomResourceDefinition' : 'CustomResourceDefinition serves nothing; releasing it', { crd: name });
    await this.objects.guaranteedUpdate(this.writer, undefined, name, defaultWriteOptions(), (current) => ({
      ...current,
      metadata: { ...current.metadata, finalizers: finalizersOf(current).filter((finalizer) => finalizer !== CRD_CLEANUP_FINALIZER) },
    }));
    return false;
  }
}
