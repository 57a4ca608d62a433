// The object's own admission, which every write goes through before it reaches storage, in Kubernetes' order:
// unknown fields (fieldValidation), defaults, metadata rules, schema, immutable fields, kind-specific rules.
// Any failure throws before anything is written. What needs other objects (namespace and parent lifecycle,
// cross-object rules) comes after, in the admission chain (admission/chain.ts) the object store runs.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { UserInfo } from '../auth/authenticate.ts';
import { validateObjectMeta } from '../admission/metadata.ts';
import { ApiError, badRequest, invalid, type FieldError } from '../errors.ts';
import { pushAll } from '../collections.ts';
import type { ResourceInfo } from './resource.ts';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Unknown-field warnings listed one by one; the rest are counted. */
const MAX_FIELD_WARNINGS = 20;

export interface WriteOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
  /** The fieldManager query parameter, exactly as given. */
  fieldManager?: string;
  /** The client's User-Agent (the manager of an Update without fieldManager). */
  userAgent?: string;
  /** Server-side apply records its own ownership; every other write is an Update. */
  operation?: 'Apply' | 'Update';
  /** Who writes: undefined for the server's own writes (bootstrap, its control loops). */
  user?: UserInfo;
  /** Warnings for the response's `Warning` headers (unknown fields under Warn, …). */
  warnings: string[];
}

/** The manager an Update is recorded under: fieldManager, else the client's user agent (as Kubernetes does). */
export function managerOf(options: WriteOptions): string {
  return options.fieldManager ?? managerFromUserAgent(options.userAgent) ?? 'unknown';
}

/** `kubectl/v1.32.0 (linux/amd64) kubernetes/abc` → `kubectl`: Kubernetes' default field manager for updates. */
function managerFromUserAgent(userAgent: string | undefined): string | undefined {
  const name = (userAgent ?? '').split('/')[0].trim();
  return name && name.length <= 128 && /^[\x20-\x7e]+$/.test(name) ? name : undefined;
}

export function defaultWriteOptions(): WriteOptions {
  return { dryRun: false, fieldValidation: 'Warn', warnings: [] };
}

export function admitObject(resource: ResourceInfo, object: KubeObject, old: KubeObject | undefined, options: WriteOptions): void {
  const name = object.metadata?.name ?? object.metadata?.generateName ?? '';
  const { unknownFields } = resource.schema.prune(object as Record<string, unknown>);
  if (unknownFields.length > 0) {
    if (options.fieldValidation === 'Strict') {
      const fields = unknownFields.slice(0, MAX_FIELD_WARNINGS).map((field) => `unknown field "${field}"`).join(', ') + (unknownFields.length > MAX_FIELD_WARNINGS ? `, and ${unknownFields.length - MAX_FIELD_WARNINGS} more` : '');
      throw new ApiError(400, 'BadRequest', `${resource.kind} in version "${resource.version}" cannot be handled as a ${resource.kind}: strict decoding error: ${fields}`, {
        causes: unknownFields.slice(0, 100).map((field) => ({ reason: 'FieldValueInvalid', message: `unknown field "${field}"`, field })),
      });
    }
    if (options.fieldValidation === 'Warn') {
      // Clients show at most a screenful; the count says how many more there were.
      pushAll(options.warnings, unknownFields.slice(0, MAX_FIELD_WARNINGS).map((field) => `unknown field "${field}"`));
      if (unknownFields.length > MAX_FIELD_WARNINGS) options.warnings.push(`${unknownFields.length - MAX_FIELD_WARNINGS} more unknown fields were dropped`);
    }
  }
  resource.schema.applyDefaults(object as Record<string, unknown>);

  const errors: FieldError[] = [];
  pushAll(errors, validateObjectMeta(object.metadata as Record<string, unknown>, resource.nameFormat, resource.namespaced));
  pushAll(errors, resource.schema.validate(object as Record<string, unknown>));
  if (old) pushAll(errors, resource.schema.checkImmutable(object as Record<string, unknown>, old as Record<string, unknown>));
  if (resource.strategy.validate) pushAll(errors, resource.strategy.validate(object, old));
  if (errors.length > 0) throw invalid(resource.kind, resource.group, name, errors);
}

/** The body must be an object of this resource's kind and version (or leave them empty). */
export function checkTypeMeta(resource: ResourceInfo, body: unknown, apiVersion: string): KubeObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the request body must be a JSON or YAML object');
  const object = body as KubeObject;
  if (object.kind === undefined || object.kind === '') throw badRequest(`Object 'Kind' is missing in the request body`);
  if (object.kind !== resource.kind) throw badRequest(`the kind of the object (${String(object.kind)}) does not match the kind of the resource (${resource.kind})`);
  if (object.apiVersion !== undefined && object.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${apiVersion})`);
  }
  object.apiVersion = apiVersion;
  if (object.metadata === undefined || object.metadata === null) object.metadata = {};
  if (typeof object.metadata !== 'object' || Array.isArray(object.metadata)) throw badRequest('metadata must be an object');
  return object;
}
