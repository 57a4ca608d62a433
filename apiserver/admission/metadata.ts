// Validation of metadata: names, labels, annotations, finalizers and owner references, with the same rules
// and messages as Kubernetes' apimachinery validation.
import { pushAll } from '../collections.ts';
import type { FieldError } from '../errors.ts';
import { isPlainObject } from '../schema/structural-schema.ts';

export const OBJECT_META_FIELDS = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const TOTAL_ANNOTATION_BYTES = 256 * 1024;

/** RBAC kinds use `path-segment` (Kubernetes' ValidatePathSegmentName: `system:node`, `photoncloud:x`). */
export type NameFormat = 'dns1123-label' | 'dns1123-subdomain' | 'path-segment';

const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** Problems with a name, as messages (empty when valid). */
export function validateName(name: string, format: NameFormat): string[] {
  const problems: string[] = [];
  if (format === 'path-segment') {
    if (name.length > 253) problems.push('must be no more than 253 characters');
    if (!isPathSegmentName(name)) problems.push("may not be '.' or '..' and may not contain '/' or '%'");
    return problems;
  }
  const max = format === 'dns1123-label' ? 63 : 253;
  if (name.length > max) problems.push(`must be no more than ${max} characters`);
  const pattern = format === 'dns1123-label' ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  if (!pattern.test(name)) problems.push(format === 'dns1123-label' ? LABEL_MESSAGE : SUBDOMAIN_MESSAGE);
  return problems;
}

/** A name as it may appear in a URL path segment (checked before anything is looked up). */
export function isPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}

/** Problems with a label or annotation key (a qualified name); empty when it is valid. */
export function validateQualifiedName(key: string): string[] {
  const problems: string[] = [];
  const parts = key.split('/');
  let name = key;
  if (parts.length > 2) return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"];
  if (parts.length === 2) {
    const [prefix, rest] = parts;
    name = rest;
    if (!prefix) problems.push('prefix part must be non-empty');
    else problems.push(...validateName(prefix, 'dns1123-subdomain').map((message) => `prefix part ${message}`));
  }
  if (!name) problems.push('name part must be non-empty');
  else if (name.length > 63) problems.push('name part must be no more than 63 characters');
  if (!QUALIFIED_NAME_PART.test(name))
    problems.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
  return problems;
}

/** A label value: empty, or at most 63 alphanumerics, '-', '_' and '.', starting and ending alphanumeric. */
export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

function invalid(field: string, value: unknown, detail: string): FieldError {
  return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${detail}` };
}

/** Validates metadata of an object about to be stored; `nameFormat` comes from the resource. */
export function validateObjectMeta(metadata: Record<string, unknown>, nameFormat: NameFormat, namespaced: boolean): FieldError[] {
  const errors: FieldError[] = [];
  const name = metadata.name;
  if (typeof name !== 'string' || name === '') {
    errors.push({ field: 'metadata.name', reason: 'FieldValueRequired', message: 'Required value: name or generateName is required' });
  } else {
    for (const problem of validateName(name, nameFormat)) errors.push(invalid('metadata.name', name, problem));
  }
  if (namespaced) {
    if (typeof metadata.namespace !== 'string' || metadata.namespace === '') errors.push({ field: 'metadata.namespace', reason: 'FieldValueRequired', message: 'Required value' });
  } else if (metadata.namespace) {
    errors.push({ field: 'metadata.namespace', reason: 'FieldValueForbidden', message: 'Forbidden: not allowed on this type' });
  }
  pushAll(errors, validateStringMap(metadata.labels, 'metadata.labels', true));
  pushAll(errors, validateStringMap(metadata.annotations, 'metadata.annotations', false));
  pushAll(errors, validateFinalizers(metadata.finalizers));
  pushAll(errors, validateOwnerReferences(metadata.ownerReferences));
  if (metadata.generateName !== undefined && typeof metadata.generateName !== 'string') errors.push(invalid('metadata.generateName', metadata.generateName, 'must be a string'));
  return errors;
}

function validateStringMap(value: unknown, field: string, labels: boolean): FieldError[] {
  if (value === undefined || value === null) return [];
  if (!isPlainObject(value)) return [invalid(field, value, 'must be a map of strings')];
  const errors: FieldError[] = [];
  let total = 0;
  for (const [key, entry] of Object.entries(value)) {
    for (const problem of validateQualifiedName(key)) errors.push(invalid(field, key, problem));
    if (typeof entry !== 'string') {
      errors.push(invalid(`${field}[${key}]`, entry, 'must be a string'));
      continue;
    }
    total += key.length + entry.length;
    if (labels) {
      if (entry.length > 63) errors.push(invalid(field, entry, 'must be no more than 63 characters'));
      else if (!LABEL_VALUE.test(entry))
        errors.push(invalid(field, entry, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
    }
  }
  if (!labels && total > TOTAL_ANNOTATION_BYTES) errors.push({ field, reason: 'FieldValueTooLong', message: `Too long: must have at most ${TOTAL_ANNOTATION_BYTES} bytes` });
  return errors;
}

function validateFinalizers(value: unknown): FieldError[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return [invalid('metadata.finalizers', value, 'must be a list of strings')];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  value.forEach((finalizer, index) => {
    const field = `metadata.finalizers[${index}]`;
    if (typeof finalizer !== 'string') return void errors.push(invalid(field, finalizer, 'must be a string'));
    for (const problem of validateQualifiedName(finalizer)) errors.push(invalid(field, finalizer, problem));
    if (seen.has(finalizer)) errors.push({ field, reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(finalizer)}` });
    seen.add(finalizer);
  });
  return errors;
}

function validateOwnerReferences(value: unknown): FieldError[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return [invalid('metadata.ownerReferences', value, 'must be a list')];
  const errors: FieldError[] = [];
  let controllers = 0;
  value.forEach((reference, index) => {
    const field = `metadata.ownerReferences[${index}]`;
    if (!isPlainObject(reference)) return void errors.push(invalid(field, reference, 'must be an object'));
    for (const key of ['apiVersion', 'kind', 'name', 'uid']) {
      if (typeof reference[key] !== 'string' || reference[key] === '') errors.push({ field: `${field}.${key}`, reason: 'FieldValueRequired', message: 'Required value' });
    }
    if (reference.controller === true) controllers++;
  });
  if (controllers > 1) errors.push(invalid('metadata.ownerReferences', controllers, 'Only one reference can have Controller set to true'));
  return errors;
}
