// Resource requests (CRUD, list, watch) → ObjectStore calls, with the representation the client asked for.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditRequest } from '../audit/types.ts';
import type { UserInfo } from '../auth/authenticate.ts';
import type { TokenIssuer } from '../auth/tokens/types.ts';
import type { Authorizer, RuleResolver } from '../authz/types.ts';
import type { KubeList, KubeObject } from '../../apis/meta/types.ts';
import { isPlainObject } from '../schema/structural-schema.ts';
import { ApiError, badRequest, invalid, methodNotAllowed, routeNotFound, serviceUnavailable } from '../errors.ts';
import { applySteps, ApplyConflictError } from '../fieldmanager/index.ts';
import { applyJsonPatch, JsonPatchError } from '../patch/json-patch.ts';
import { applyMergePatch } from '../patch/merge-patch.ts';
import { applyStrategicMergePatch, patchStrategiesFor, StrategicMergePatchError } from '../patch/strategic-merge-patch.ts';
import type { WriteOptions } from '../registry/admit.ts';
import { deleteRefusal, fieldContext, runSteps, type DeleteOptions, type ObjectStore } from '../registry/object-store.ts';
import type { Reader } from '../registry/reads.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import { apiVersionOf, type ResourceInfo } from '../registry/resource.ts';
import { createVirtual } from '../registry/virtual.ts';
import { renderTable, type IncludeObject } from '../table/table.ts';
import { decodeObjectBody, decodePatchBody, readBody } from './body.ts';
import { negotiateRepresentation, type Representation } from './negotiate.ts';
import { booleanParam, integerParam, writeOptions } from './query.ts';
import type { ResourceRequest } from './request-info.ts';
import { sendJson } from './respond.ts';
import { issueServiceAccountToken, tokenRequestSpec } from './token-request.ts';
import type { WatchHandler } from './watch-handler.ts';
import { cloneJson } from '../../lib/json-clone.ts';

/** Who asked, and the audit record the handler adds the request and response objects to. */
export interface RequestContext {
  user: UserInfo;
  audit: AuditRequest;
}

export interface ResourceHandlerDeps {
  registry: ResourceRegistry;
  objects: ObjectStore;
  reader: Reader;
  watches: WatchHandler;
  /** The router's authorizer: computed reviews (SubjectAccessReview, …) ask it on the caller's behalf. */
  authorizer: Authorizer;
  /** The rules behind the authorizer, for SelfSubjectRulesReview (`kubectl auth can-i --list`). */
  rules: RuleResolver;
  /** Signs the tokens of a ServiceAccount's `token` subresource (TokenRequest). */
  tokens: TokenIssuer;
  /** Serves read-only subresources (a VirtualMachine's `console`: console-proxy.ts). */
  readSubresource?: (request: IncomingMessage, response: ServerResponse, query: URLSearchParams, info: ResourceRequest, resource: ResourceInfo) => Promise<void>;
}

const SUBRESOURCE_VERBS: Record<string, string[]> = {
  status: ['get', 'update', 'patch'],
  finalize: ['update'],
  token: ['create'],
  console: ['get'],
};

/** Finds the resource a request addresses and checks scope and subresource, or throws the 404/405. */
export function resolveResource(registry: ResourceRegistry, request: ResourceRequest): ResourceInfo {
  const resource = registry.get(request.group, request.version, request.resource);
  if (!resource) throw routeNotFound();
  if (!resource.namespaced && request.namespace !== undefined) throw routeNotFound();
  if (resource.namespaced && request.namespace === undefined && !['list', 'watch'].includes(request.verb)) {
    if (request.name === undefined) throw methodNotAllowed(request.verb);
    throw routeNotFound();
  }
  // Collections are created in and listed; single objects are replaced and patched (405 otherwise).
  if ((request.verb === 'update' || request.verb === 'patch') && request.name === undefined) throw methodNotAllowed(request.verb.toUpperCase());
  // Computed resources are only created (kube-apiserver answers 405 for anything else on them too).
  if (resource.virtual && request.verb !== 'create') throw methodNotAllowed(request.verb);
  const createSubresource = request.subresource !== undefined && resource.createSubresources?.some((subresource) => subresource.name === request.subresource);
  if (request.verb === 'create' && request.name !== undefined && !createSubresource) throw methodNotAllowed('POST');
  if (request.subresource !== undefined) {
    const allowed = SUBRESOURCE_VERBS[request.subresource];
    const readSubresource = resource.readSubresources?.includes(request.subresource) ?? false;
    const served = request.subresource === 'status' ? resource.hasStatus : request.subresource === 'finalize' ? resource.plural === 'namespaces' && !resource.group : createSubresource || readSubresource;
    if (!allowed || !served) throw routeNotFound();
    if (!allowed.includes(request.verb)) throw methodNotAllowed(request.verb);
  }
  return resource;
}

function includeObjectParam(query: URLSearchParams): IncludeObject {
  const value = query.get('includeObject') ?? 'Metadata';
  if (value !== 'None' && value !== 'Metadata' && value !== 'Object') throw badRequest(`includeObject: unsupported value ${JSON.stringify(value)}: supported values: "None", "Metadata", "Object"`);
  return value;
}

function represent(resource: ResourceInfo, body: KubeObject | KubeList, representation: Representation, query: URLSearchParams, single: boolean): unknown {
  if (representation.as === 'object') return body;
  const items = single ? [body as KubeObject] : (body as KubeList).items;
  const listMeta = single ? { resourceVersion: (body as KubeObject).metadata.resourceVersion } : (body as KubeList).metadata;
  if (representation.as === 'Table') return renderTable(resource, items, listMeta, includeObjectParam(query), representation.apiVersion);
  const partial = (object: KubeObject) => ({ kind: 'PartialObjectMetadata', apiVersion: representation.apiVersion, metadata: object.metadata });
  if (single) return partial(body as KubeObject);
  return { kind: 'PartialObjectMetadataList', apiVersion: representation.apiVersion, metadata: listMeta, items: items.map(partial) };
}

export class ResourceHandler {
  constructor(private readonly deps: ResourceHandlerDeps) {}

  /** Serves a request for `resource`, which the router resolved from `info` with resolveResource. */
  async handle(request: IncomingMessage, response: ServerResponse, query: URLSearchParams, info: ResourceRequest, resource: ResourceInfo, context: RequestContext): Promise<void> {
    const accept = request.headers.accept;
    const { objects } = this.deps;
    const namespace = info.namespace;
    switch (info.verb) {
      case 'get': {
        if (info.subresource !== undefined && resource.readSubresources?.includes(info.subresource)) {
          if (!this.deps.readSubresource) throw serviceUnavailable(`${resource.plural}/${info.subresource} is not served by this API server`);
          return this.deps.readSubresource(request, response, query, info, resource);
        }
        const object = await this.deps.reader.get(resource, namespace, info.name!, query.get('resourceVersion') ?? undefined);
        // The audit record keeps references only; it serialises them just for levels that log responses.
        context.audit.responseObject = represent(resource, object, negotiateRepresentation(accept), query, true);
        return sendJson(response, 200, context.audit.responseObject, { accept });
      }
      case 'list': {
        const list = await this.deps.reader.list(resource, namespace, {
          labelSelector: query.get('labelSelector') ?? undefined,
          fieldSelector: query.get('fieldSelector') ?? undefined,
          limit: integerParam(query, 'limit'),
          continue: query.get('continue') ?? undefined,
          resourceVersion: query.get('resourceVersion') ?? undefined,
          resourceVersionMatch: query.get('resourceVersionMatch') ?? undefined,
        });
        context.audit.responseObject = represent(resource, list, negotiateRepresentation(accept), query, false);
        return sendJson(response, 200, context.audit.responseObject, { accept });
      }
      case 'watch':
        return this.deps.watches.serve(request, response, resource, namespace, query);
      case 'create': {
        if (resource.virtual || info.subresource === 'token') return this.createComputed(request, response, info, resource, context);
        const options = writeOptions(query, request.headers['user-agent'], context.user);
        const body = await decodeObjectBody(request.headers['content-type'], await readBody(request));
        context.audit.requestObject = body;
        const created = await objects.create(resource, namespace, cloneJson(body), options);
        context.audit.responseObject = created;
        return sendJson(response, 201, created, { accept, warnings: options.warnings });
      }
      case 'update': {
        const options = writeOptions(query, request.headers['user-agent'], context.user);
        const body = await decodeObjectBody(request.headers['content-type'], await readBody(request));
        context.audit.requestObject = body;
        const updated = await objects.update(resource, namespace, info.name!, cloneJson(body), options, info.subresource);
        context.audit.responseObject = updated;
        return sendJson(response, 200, updated, { accept, warnings: options.warnings });
      }
      case 'patch':
        return this.patch(request, response, resource, info, query, context);
      case 'delete': {
        const options = writeOptions(query, request.headers['user-agent'], context.user);
        const deleteOptions = await readDeleteOptions(request, query);
        context.audit.requestObject = deleteOptions;
        const result = await objects.delete(resource, namespace, info.name!, deleteOptions, options);
        context.audit.responseObject = result.deleted ? result.status : result.object;
        return sendJson(response, 200, context.audit.responseObject, { accept, warnings: options.warnings });
      }
      case 'deletecollection': {
        if (namespace === undefined && resource.namespaced) throw methodNotAllowed('DELETE');
        const options = writeOptions(query, request.headers['user-agent'], context.user);
        const deleteOptions = await readDeleteOptions(request, query);
        const list = await this.deps.reader.list(resource, namespace, {
          labelSelector: query.get('labelSelector') ?? undefined,
          fieldSelector: query.get('fieldSelector') ?? undefined,
        });
        // All or nothing for what is refused outright (system namespaces): check every item before deleting any.
        for (const item of list.items) {
          const refused = deleteRefusal(resource, item, '; nothing was deleted');
          if (refused) throw refused;
        }
        const deleted: KubeObject[] = [];
        for (const item of list.items) {
          try {
            const result = await objects.delete(resource, item.metadata.namespace, item.metadata.name!, deleteOptions, options);
            deleted.push(result.object);
          } catch (error) {
            if (!(error instanceof ApiError && error.code === 404)) throw error;
          }
        }
        return sendJson(response, 200, { ...list, items: deleted }, { accept, warnings: options.warnings });
      }
    }
  }

  /** Creates what is computed, not stored: a review (ResourceInfo.virtual) or a ServiceAccount's token. */
  private async createComputed(request: IncomingMessage, response: ServerResponse, info: ResourceRequest, resource: ResourceInfo, context: RequestContext): Promise<void> {
    const body = await decodeObjectBody(request.headers['content-type'], await readBody(request));
    // The audit log redacts reviews and token requests (audit/redact.ts); the record only holds references.
    context.audit.requestObject = body;
    if (resource.virtual) {
      const result = createVirtual(resource, body, { user: context.user, namespace: info.namespace, authorizer: this.deps.authorizer, rules: this.deps.rules });
      context.audit.responseObject = result;
      return sendJson(response, 201, result, { accept: request.headers.accept });
    }
    const spec = tokenRequestSpec(body, info.name!);
    // 404 (serviceaccounts "NAME" not found) when the account does not exist.
    const serviceAccount = await this.deps.reader.get(resource, info.namespace, info.name!);
    const issued = issueServiceAccountToken(this.deps.tokens, serviceAccount, spec);
    context.audit.responseObject = issued;
    return sendJson(response, 201, issued, { accept: request.headers.accept });
  }

  private async patch(request: IncomingMessage, response: ServerResponse, resource: ResourceInfo, info: ResourceRequest, query: URLSearchParams, context: RequestContext): Promise<void> {
    const options = writeOptions(query, request.headers['user-agent'], context.user);
    const accept = request.headers.accept;
    const strategies = resource.source === 'builtin' ? patchStrategiesFor(apiVersionOf(resource), resource.kind) : undefined;
    const { patchType, patch } = await decodePatchBody(request.headers['content-type'], await readBody(request), { strategicMerge: strategies !== undefined });
    context.audit.requestObject = patch;
    const force = booleanParam(query, 'force');
    if (force && patchType !== 'application/apply-patch+yaml') throw badRequest('force: Invalid value: force may only be specified for apply patches');
    const name = info.name!;
    const { objects } = this.deps;

    if (patchType === 'application/apply-patch+yaml') {
      if (!options.fieldManager) throw badRequest('PATCH requests with apply must set fieldManager (the name of the applier)');
      return this.apply(response, resource, info, patch, { ...options, operation: 'Apply' }, force, accept);
    }

    if (patchType === 'application/merge-patch+json' && !isPlainObject(patch)) throw badRequest('a merge patch must be a JSON object');
    if (patchType === 'application/strategic-merge-patch+json' && !isPlainObject(patch)) throw badRequest('a strategic merge patch must be a JSON object');
    const updated = await objects.guaranteedUpdate(resource, info.namespace, name, options, (current) => {
      try {
        if (patchType === 'application/strategic-merge-patch+json') return applyStrategicMergePatch(current, patch, strategies!) as KubeObject;
        return (patchType === 'application/merge-patch+json' ? applyMergePatch(current, patch) : applyJsonPatch(current, patch)) as KubeObject;
      } catch (error) {
        if (error instanceof StrategicMergePatchError) throw badRequest(`invalid strategic merge patch: ${error.message}`);
        if (error instanceof JsonPatchError) {
          if (error.kind === 'malformed') throw badRequest(`invalid JSON patch: ${error.message}`);
          if (error.kind === 'too-large') throw new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: ${error.message}`);
          throw invalid(resource.kind, resource.group, name, [{ field: '<patch>', reason: 'FieldValueInvalid', message: `Invalid value: the patch could not be applied: ${error.message}` }]);
        }
        throw error;
      }
    }, { subresource: info.subresource });
    context.audit.responseObject = updated;
    return sendJson(response, 200, updated, { accept, warnings: options.warnings });
  }

  /** Server-side apply: merge with field ownership; creates what does not exist; 409 on conflicts unless forced. */
  private async apply(response: ServerResponse, resource: ResourceInfo, info: ResourceRequest, patch: unknown, options: WriteOptions, force: boolean, accept: string | undefined): Promise<void> {
    if (!isPlainObject(patch)) throw badRequest('an apply configuration must be an object');
    const config = patch as KubeObject;
    const name = info.name!;
    if (config.apiVersion !== apiVersionOf(resource) || config.kind !== resource.kind) {
      throw badRequest(`the apply configuration must have apiVersion ${JSON.stringify(apiVersionOf(resource))} and kind ${JSON.stringify(resource.kind)}`);
    }
    if (!isPlainObject(config.metadata) || config.metadata.name !== name) throw badRequest(`metadata.name: the apply configuration's name must be ${JSON.stringify(name)}, the name on the URL`);
    if (config.metadata.managedFields !== undefined) throw badRequest('metadata.managedFields must be nil in an apply configuration');
    const manager = options.fieldManager!;
    const subresource = info.subresource === 'status' ? 'status' : undefined;
    const { objects } = this.deps;
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const updated = await objects.guaranteedUpdate(resource, info.namespace, name, options, (current) => runSteps(applySteps(current, config, manager, { force }, fieldContext(resource, subresource)), current, config), { subresource: info.subresource });
          return sendJson(response, 200, updated, { accept, warnings: options.warnings });
        } catch (error) {
          if (!(error instanceof ApiError && error.code === 404 && error.details?.kind === resource.plural && error.details?.name === name) || info.subresource) throw error;
        }
        try {
          // Apply creates what does not exist yet.
          const applied = await runSteps(applySteps(undefined, cloneJson(config), manager, { force }, fieldContext(resource)), config);
          const created = await objects.create(resource, info.namespace, applied, options);
          return sendJson(response, 201, created, { accept, warnings: options.warnings });
        } catch (error) {
          if (!(error instanceof ApiError && error.reason === 'AlreadyExists')) throw error;
        }
      }
    } catch (error) {
      if (error instanceof ApplyConflictError) throw new ApiError(409, 'Conflict', error.message, error.toStatus().details);
      throw error;
    }
    throw new ApiError(409, 'Conflict', `apply of ${resource.plural} "${name}" kept racing with concurrent creates and deletes; try again`);
  }
}

async function readDeleteOptions(request: IncomingMessage, query: URLSearchParams): Promise<DeleteOptions> {
  const body = await readBody(request);
  let options: DeleteOptions = {};
  if (body.length > 0) {
    const parsed = await decodeObjectBody(request.headers['content-type'], body);
    if (!isPlainObject(parsed)) throw badRequest('DeleteOptions must be a JSON object');
    options = parsed as DeleteOptions;
    if (parsed.preconditions !== undefined && !isPlainObject(parsed.preconditions)) throw badRequest('preconditions must be an object');
  }
  const policy = query.get('propagationPolicy');
  if (policy) options.propagationPolicy = policy as DeleteOptions['propagationPolicy'];
  if (query.get('orphanDependents') === 'true' && !options.propagationPolicy) options.propagationPolicy = 'Orphan';
  const grace = integerParam(query, 'gracePeriodSeconds');
  if (grace !== undefined) options.gracePeriodSeconds = grace;
  return options;
}

