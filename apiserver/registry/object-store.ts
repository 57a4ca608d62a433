// Generic create/read/update/delete of API objects on top of the storage interface: metadata bookkeeping
// (uid, generation, timestamps), the status subresource split, finalizers and deletionTimestamp,
// optimistic concurrency and dry runs. HTTP-free: handlers translate requests into these calls.
import { timestamp } from '../../apis/meta/time.ts';
import { jsonEqual } from '../../apis/meta/equality.ts';
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER } from '../../apis/meta/finalizers.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import type { KubeObject, Status } from '../../apis/meta/types.ts';
import { recordUpdate, withManagedFields, type FieldManagerContext } from '../fieldmanager/index.ts';
import type { AdmissionChain } from '../admission/chain.ts';
import { alreadyExists, ApiError, badRequest, conflict, forbidden, invalid, isGoneOrChanged, notFound } from '../errors.ts';
import { fieldCountUpTo, MAX_OBJECT_BYTES, MAX_OBJECT_FIELDS } from '../limits.ts';
import { isStorageError, type KeyValue, type Store } from '../storage/types.ts';
import { admitObject, checkTypeMeta, managerOf, type WriteOptions } from './admit.ts';
import { decodeKeyValue, encodeObject } from './codec.ts';
import { apiVersionOf, fromStorage, groupResource, objectKey, type ResourceInfo } from './resource.ts';
import { cloneJson } from '../../lib/json-clone.ts';

export interface DeleteOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
}

export type DeleteResult = { deleted: true; object: KubeObject; status: Status } | { deleted: false; object: KubeObject };

/** Finalizers the garbage collector acts on (Kubernetes' names): wait for dependents, or release them. */

/** How many times an update without a resourceVersion precondition is retried after losing a CAS race. */
const MAX_UPDATE_ATTEMPTS = 20;

/**
 * Deletes an object with Background propagation unless it is already being deleted (the server's own cleanup
 * loops); one that went away or changed meanwhile is left to the next pass.
 */
export async function deleteUnlessDeleting(objects: ObjectStore, resource: ResourceInfo, object: KubeObject, options: WriteOptions): Promise<void> {
  if (object.metadata.deletionTimestamp) return;
  try {
    await objects.delete(resource, object.metadata.namespace, object.metadata.name!, { propagationPolicy: 'Background' }, options);
  } catch (error) {
    if (!isGoneOrChanged(error)) throw error;
  }
}

/**
 * The stored form of an object about to be written, refused (413) when it is larger than storage takes:
 * checked before every write, dry runs included, whatever built the object (create, PUT, any patch).
 */
/**
 * The object a write stored, as the client gets it back: `object` itself with its new resourceVersion (decoding
 * the bytes just encoded would only parse them back), unless the resource converts between a served and a
 * stored version, where the answer is what the stored form converts back to.
 */
function writtenObject(object: KubeObject, written: KeyValue, resource: ResourceInfo): KubeObject {
  if (resource.conversion) return decodeKeyValue(written, resource);
  object.metadata.resourceVersion = String(written.modRevision);
  return object;
}

/**
 * Past this many fields, checking, field ownership and encoding an object each take tens of milliseconds of
 * the event loop (a 20,000-key ConfigMap: ~60, ~90 and ~30 ms): a create or update lets other requests —
 * /readyz, watches, other clients — in between them rather than holding the loop for all of it at once.
 */
const LARGE_OBJECT_FIELDS = 2000;

const isLarge = (object: unknown) => fieldCountUpTo(object, LARGE_OBJECT_FIELDS) > LARGE_OBJECT_FIELDS;

/** Resolves on the next turn of the event loop, after pending I/O (a resolved promise would not wait for it). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs a computation written as steps (see the field manager's applySteps) to its result: straight through,
 * or, when one of `objects` is large, with a loop turn between steps.
 */
export async function runSteps<T>(steps: Generator<void, T, void>, ...objects: unknown[]): Promise<T> {
  const large = objects.some(isLarge);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (large) await nextTurn();
  }
}

export function encodeForWrite(object: KubeObject, resource: ResourceInfo): Buffer {
  const tooLarge = (why: string) =>
    new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: ${groupResource(resource)} "${object.metadata.name ?? ''}" ${why}`, {
      name: object.metadata.name,
      group: resource.group || undefined,
      kind: resource.plural,
    });
  if (fieldCountUpTo(object, MAX_OBJECT_FIELDS) > MAX_OBJECT_FIELDS) throw tooLarge(`would have more than ${MAX_OBJECT_FIELDS} fields`);
  const encoded = encodeObject(object, resource);
  if (encoded.length > MAX_OBJECT_BYTES) throw tooLarge(`would be ${encoded.length} bytes; the limit for a stored object is ${MAX_OBJECT_BYTES}`);
  return encoded;
}

/**
 * The 403 for an object its kind never lets be deleted (a system namespace), or undefined; `consequence`
 * is added to the message (a collection delete says that nothing was deleted).
 */
export function deleteRefusal(resource: ResourceInfo, object: KubeObject, consequence = ''): ApiError | undefined {
  const refusal = resource.strategy.refuseDelete?.(object);
  if (!refusal) return undefined;
  const name = object.metadata.name!;
  return forbidden(`${groupResource(resource)} "${name}" is forbidden: ${refusal}${consequence}`, { plural: resource.plural, group: resource.group, name });
}

/** Objects here are JSON data (decoded from storage or a request): see lib/json-clone.ts. */
const clone = cloneJson;

/** Everything but metadata and (when it is a subresource) status: what metadata.generation tracks. */
function specOf(object: KubeObject, hasStatus: boolean): Record<string, unknown> {
  const { metadata: _metadata, apiVersion: _apiVersion, kind: _kind, ...rest } = object;
  if (hasStatus) delete rest.status;
  return rest;
}

function withoutResourceVersion(object: KubeObject): KubeObject {
  return { ...object, metadata: { ...object.metadata, resourceVersion: undefined } };
}

export class ObjectStore {
  /**
   * `admission`: the chain every create and update passes after the object's own validation (namespace and
   * parent lifecycle, checks against other objects); without one, only the object's own validation applies.
   */
  constructor(
    private readonly store: Store,
    private readonly admission?: AdmissionChain,
    /**
     * The watch cache's copy of a key (stored form, its modRevision), when it has one: an update's first
     * attempt starts from it instead of reading storage.
     */
    private readonly cached?: (key: string) => { object: KubeObject; revision: number } | undefined,
  ) {}

  async get(resource: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject> {
    const kv = await this.store.get(objectKey(resource, namespace, name));
    if (!kv) throw notFound(resource.plural, resource.group, name);
    return decodeKeyValue(kv, resource);
  }

  async create(resource: ResourceInfo, namespace: string | undefined, body: unknown, options: WriteOptions): Promise<KubeObject> {
    const object = checkTypeMeta(resource, body, apiVersionOf(resource));
    const metadata = object.metadata;
    if (resource.namespaced) {
      if (metadata.namespace && metadata.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      metadata.namespace = namespace;
    } else {
      delete metadata.namespace;
    }
    if (metadata.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
    const generated = !metadata.name && typeof metadata.generateName === 'string' && metadata.generateName !== '';
    for (let attempt = 0; ; attempt++) {
      // The body is ours alone; a copy is needed only to try another generated name.
      const candidate = generated ? clone(object) : object;
      const meta = candidate.metadata;
      if (generated) meta.name = `${meta.generateName}${randomSuffix()}`;
      meta.uid = randomUUID();
      meta.creationTimestamp = timestamp();
      if (resource.tracksGeneration) meta.generation = 1;
      else delete meta.generation;
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
      if (options.operation !== 'Apply') delete meta.managedFields;
      if (resource.hasStatus) delete candidate.status;
      resource.strategy.prepareForCreate?.(candidate);
      const large = isLarge(candidate);
      if (large) await nextTurn();
      admitObject(resource, candidate, undefined, options);
      await this.admission?.admit({ operation: 'CREATE', resource, object: candidate, dryRun: options.dryRun, user: options.user });
      if (large) await nextTurn();
      if (options.operation !== 'Apply') candidate.metadata = withManagedFields(candidate.metadata, recordUpdate(undefined, candidate, managerOf(options), fieldContext(resource)));
      const encoded = encodeForWrite(candidate, resource);
      if (options.dryRun) return candidate;
      try {
        const kv = await this.store.create(objectKey(resource, namespace, meta.name!), encoded);
        candidate.metadata.resourceVersion = String(kv.modRevision);
        return candidate;
      } catch (error) {
        if (isStorageError(error, 'AlreadyExists')) {
          if (generated && attempt < 3) continue;
          throw alreadyExists(resource.plural, resource.group, meta.name!);
        }
        throw error;
      }
    }
  }

  /** PUT: replaces the object (or, for `status`, only its status). */
  async update(resource: ResourceInfo, namespace: string | undefined, name: string, body: unknown, options: WriteOptions, subresource?: string): Promise<KubeObject> {
    const object = checkTypeMeta(resource, body, apiVersionOf(resource));
    if (object.metadata.name !== undefined && object.metadata.name !== name) {
      throw badRequest(`the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (resource.namespaced && object.metadata.namespace && object.metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const precondition = object.metadata.resourceVersion || undefined;
    return this.guaranteedUpdate(resource, namespace, name, options, () => clone(object), { precondition, subresource });
  }

  /**
   * Where a write's attempt starts. The first starts from the watch cache's copy, as Kubernetes'
   * GuaranteedUpdate does: no storage read, no decode, and the write's compare-and-swap on the copy's revision
   * says whether it was current (`guess`: the caller must decide again from storage whatever the copy alone
   * would answer without a write). A dry run writes nothing to check the copy with, so it reads storage from
   * the start, as every later attempt does.
   */
  private async startingPoint(resource: ResourceInfo, key: string, name: string, attempt: number, options: WriteOptions): Promise<{ current: KubeObject; modRevision: number; guess: boolean }> {
    const copy = attempt === 1 && !options.dryRun ? this.cached?.(key) : undefined;
    // The cache's object: read, never modified.
    if (copy) return { current: fromStorage(resource, copy.object), modRevision: copy.revision, guess: true };
    const kv = await this.store.get(key);
    if (!kv) throw notFound(resource.plural, resource.group, name);
    return { current: decodeKeyValue(kv, resource), modRevision: kv.modRevision, guess: false };
  }

  /**
   * Read-modify-write with compare-and-swap. `mutate` gets a private copy of the stored object and returns
   * the desired object; it is re-run on the fresh object when another writer got in first, unless the
   * caller pinned a resourceVersion (then the race is a 409 Conflict, as the client asked).
   */
  async guaranteedUpdate(
    resource: ResourceInfo,
    namespace: string | undefined,
    name: string,
    options: WriteOptions,
    mutate: (current: KubeObject) => KubeObject | Promise<KubeObject>,
    { precondition, subresource }: { precondition?: string; subresource?: string } = {},
  ): Promise<KubeObject> {
    const key = objectKey(resource, namespace, name);
    for (let attempt = 1; ; attempt++) {
      // Whatever the copy alone would decide (an error, a conflict, nothing to change) is decided again from
      // storage: the cache may lag by a few milliseconds.
      const { current, modRevision, guess } = await this.startingPoint(resource, key, name, attempt, options);
      let next: KubeObject;
      let encoded: Buffer | undefined;
      try {
        if (precondition !== undefined && precondition !== current.metadata.resourceVersion) throw conflict(resource.plural, resource.group, name);
        const desired = await mutate(clone(current));
        if (desired.metadata?.resourceVersion !== undefined && desired.metadata.resourceVersion !== current.metadata.resourceVersion) {
          throw conflict(resource.plural, resource.group, name);
        }
        const large = isLarge(desired) || isLarge(current);
        if (large) await nextTurn();
        next = await this.prepareUpdate(resource, desired, current, options, subresource, large);
        if (large) await nextTurn();
        if (jsonEqual(withoutResourceVersion(next), withoutResourceVersion(current))) {
          if (guess) continue;
          return current;
        }
        // The last finalizer gone: the object is deleted, not written (so not size-checked either).
        const deleting = next.metadata.deletionTimestamp !== undefined && !this.hasPendingFinalizers(resource, next);
        encoded = deleting ? undefined : encodeForWrite(next, resource);
      } catch (error) {
        if (guess) continue;
        throw error;
      }
      if (options.dryRun) return next;
      try {
        if (!encoded) {
          await this.store.delete(key, modRevision);
          return next;
        }
        const written = await this.store.update(key, encoded, modRevision);
        return writtenObject(next, written, resource);
      } catch (error) {
        if (isStorageError(error, 'Conflict') || isStorageError(error, 'NotFound')) {
          if (precondition !== undefined || attempt >= MAX_UPDATE_ATTEMPTS) throw conflict(resource.plural, resource.group, name);
          continue;
        }
        throw error;
      }
    }
  }

  /** Builds the object to store from what the client sent and what is stored (system fields are the server's). */
  private async prepareUpdate(resource: ResourceInfo, desired: KubeObject, current: KubeObject, options: WriteOptions, subresource: string | undefined, large: boolean): Promise<KubeObject> {
    if (typeof desired !== 'object' || desired === null || typeof desired.metadata !== 'object' || desired.metadata === null) {
      throw badRequest('the patched object must be an object with metadata');
    }
    if (desired.metadata.name !== undefined && desired.metadata.name !== current.metadata.name) {
      throw badRequest(`the name of the object (${String(desired.metadata.name)}) does not match the name on the URL (${current.metadata.name})`);
    }
    if (desired.kind !== undefined && desired.kind !== resource.kind) throw badRequest(`the kind of the object (${String(desired.kind)}) does not match the kind of the resource (${resource.kind})`);
    if (desired.metadata.uid && desired.metadata.uid !== current.metadata.uid) {
      throw conflict(resource.plural, resource.group, current.metadata.name!, `Precondition failed: UID in precondition: ${desired.metadata.uid}, UID in object meta: ${current.metadata.uid}`);
    }
    let next: KubeObject;
    if (subresource === 'finalize') {
      // PUT namespaces/{name}/finalize: only spec.finalizers change (the namespace lifecycle loop's channel).
      next = clone(current);
      next.spec = { ...(next.spec as object), finalizers: (desired.spec as { finalizers?: string[] } | undefined)?.finalizers ?? [] };
    } else if (subresource === 'status') {
      next = clone(current);
      if (desired.status === undefined) delete next.status;
      else next.status = desired.status;
    } else {
      next = desired;
      next.apiVersion = current.apiVersion;
      next.kind = current.kind;
      const meta = next.metadata;
      for (const field of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'namespace', 'name'] as const) {
        if (current.metadata[field] === undefined) delete meta[field];
        else (meta as Record<string, unknown>)[field] = current.metadata[field];
      }
      delete meta.generateName;
      if (current.metadata.generateName) meta.generateName = current.metadata.generateName;
      if (resource.hasStatus) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
      resource.strategy.prepareForUpdate?.(next, current);
    }
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    admitObject(resource, next, current, options);
    await this.admission?.admit({ operation: 'UPDATE', resource, object: next, old: current, subresource, dryRun: options.dryRun, user: options.user });
    if (large) await nextTurn();
    // Ownership: an apply already computed it; the namespace finalize channel leaves it alone.
    if (options.operation !== 'Apply' && subresource !== 'finalize') {
      next.metadata = withManagedFields(next.metadata, recordUpdate(current, next, managerOf(options), fieldContext(resource, subresource === 'status' ? 'status' : undefined)));
    }
    if (current.metadata.deletionTimestamp) {
      const before = new Set(current.metadata.finalizers ?? []);
      const added = (next.metadata.finalizers ?? []).filter((finalizer) => !before.has(finalizer));
      if (added.length > 0) {
        throw invalid(resource.kind, resource.group, current.metadata.name!, [
          { field: 'metadata.finalizers', reason: 'FieldValueForbidden', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` },
        ]);
      }
    }
    if (resource.tracksGeneration && subresource === undefined && !jsonEqual(specOf(next, resource.hasStatus), specOf(current, resource.hasStatus))) {
      next.metadata.generation = (current.metadata.generation ?? 0) + 1;
    }
    return next;
  }

  private hasPendingFinalizers(resource: ResourceInfo, object: KubeObject): boolean {
    return (object.metadata.finalizers?.length ?? 0) > 0 || (resource.strategy.hasPendingFinalizers?.(object) ?? false);
  }

  async delete(resource: ResourceInfo, namespace: string | undefined, name: string, deleteOptions: DeleteOptions, options: WriteOptions): Promise<DeleteResult> {
    const policy = deleteOptions.propagationPolicy;
    if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy)) {
      throw invalid('DeleteOptions', 'meta.k8s.io', '', [{ field: 'propagationPolicy', reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"` }]);
    }
    const key = objectKey(resource, namespace, name);
    for (let attempt = 1; ; attempt++) {
      // As an update: the delete's compare-and-swap on the copy's revision says whether it was current, and a
      // refusal the copy alone would give is decided again from storage.
      const { current, modRevision, guess } = await this.startingPoint(resource, key, name, attempt, options);
      const refused = this.deletePreconditionFailure(resource, current, deleteOptions) ?? deleteRefusal(resource, current);
      if (refused && guess) continue;
      if (refused) throw refused;
      // Already being deleted: answered without a write, so without a compare-and-swap to vouch for the copy.
      if (guess && current.metadata.deletionTimestamp) continue;
      try {
        // Foreground and Orphan deletion are carried out by the garbage collector through these finalizers.
        const gcFinalizer = policy === 'Foreground' ? FOREGROUND_FINALIZER : policy === 'Orphan' ? ORPHAN_FINALIZER : undefined;
        if (gcFinalizer || this.hasPendingFinalizers(resource, current)) return { deleted: false, object: await this.markDeleting(resource, key, modRevision, current, options, gcFinalizer) };
        if (!options.dryRun) await this.store.delete(key, modRevision);
        return { deleted: true, object: current, status: deletedStatus(resource, current) };
      } catch (error) {
        if ((isStorageError(error, 'Conflict') || isStorageError(error, 'NotFound')) && attempt < MAX_UPDATE_ATTEMPTS) continue;
        if (isStorageError(error, 'Conflict')) throw conflict(resource.plural, resource.group, name);
        if (isStorageError(error, 'NotFound')) throw notFound(resource.plural, resource.group, name);
        throw error;
      }
    }
  }

  /** First DELETE of an object with finalizers: stamp deletionTimestamp; finalizers' owners take it from here. */
  private async markDeleting(resource: ResourceInfo, key: string, modRevision: number, current: KubeObject, options: WriteOptions, gcFinalizer?: string): Promise<KubeObject> {
    if (current.metadata.deletionTimestamp) return current;
    const next = clone(current);
    if (gcFinalizer && !(next.metadata.finalizers ?? []).includes(gcFinalizer)) next.metadata.finalizers = [...(next.metadata.finalizers ?? []), gcFinalizer];
    next.metadata.deletionTimestamp = timestamp();
    next.metadata.deletionGracePeriodSeconds = 0;
    resource.strategy.prepareForDelete?.(next);
    const encoded = encodeForWrite(next, resource);
    if (options.dryRun) return next;
    return writtenObject(next, await this.store.update(key, encoded, modRevision), resource);
  }

  /** The 409 a delete's preconditions (uid, resourceVersion) give against `current`, or undefined. */
  private deletePreconditionFailure(resource: ResourceInfo, current: KubeObject, deleteOptions: DeleteOptions): ApiError | undefined {
    const { uid, resourceVersion } = deleteOptions.preconditions ?? {};
    const name = current.metadata.name!;
    if (uid && uid !== current.metadata.uid) {
      return conflict(resource.plural, resource.group, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata.uid}`);
    }
    if (resourceVersion && resourceVersion !== current.metadata.resourceVersion) {
      return conflict(resource.plural, resource.group, name, `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`);
    }
    return undefined;
  }
}

/** How field ownership is computed for a write to this resource (and subresource). */
export function fieldContext(resource: ResourceInfo, subresource?: 'status'): FieldManagerContext {
  return {
    schema: resource.openAPISchema,
    apiVersion: apiVersionOf(resource),
    now: timestamp(),
    subresource,
    // Main-resource writes never own status when status is a subresource.
    ignoreStatus: resource.hasStatus && subresource === undefined,
  };
}

function deletedStatus(resource: ResourceInfo, object: KubeObject): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name: object.metadata.name, group: resource.group || undefined, kind: resource.plural, uid: object.metadata.uid },
    code: 200,
  };
}

/** Five characters from [a-z0-9] minus look-alikes, as Kubernetes' generateName uses. */
function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((byte) => alphabet[byte % alphabet.length]).join('');
}
