// Validation of objects against a CRD's structural schema, in the order Kubernetes applies it:
//   prune (unknown fields and non-nullable nulls; reported so fieldValidation=Strict|Warn can act),
//   default, validate (ajv, compiled once per schema), then cross-version checks (immutable fields).
import { jsonEqual } from '../../apis/meta/equality.ts';
import { Ajv, type ErrorObject } from 'ajv';
import { pushAll } from '../collections.ts';
import type { FieldError } from '../errors.ts';
import { KNOWN_FORMATS, registerFormats } from './formats.ts';
import { PATTERN_BUDGET_KEYWORD, re2RegExp, withPatternBudget, type BudgetedValidator } from './schema-patterns.ts';
import { childSchema, fieldPath, isPlainObject, renderValue, type JSONSchemaProps } from './structural-schema.ts';
import { OBJECT_META_FIELDS } from '../admission/metadata.ts';
import { cloneJson } from '../../lib/json-clone.ts';

/** Schema errors reported per object (see validate). */
const MAX_SCHEMA_ERRORS = 256;

const ANNOTATION_KEYWORDS = [
  'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-validations', 'example', 'externalDocs',
];

/** One ajv for the process: strict mode on, Kubernetes' vendor keywords registered as annotations. */
function createAjv(): Ajv {
  // strictRequired is off because structural schemas legitimately put `required` alone in anyOf/oneOf
  // branches; everything else strict mode checks (unknown keywords, types, tuples) stays on.
  // Patterns run on RE2 (linear time, bounded per validation), never on V8's backtracking RegExp: see schema-patterns.ts.
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, verbose: true, allowUnionTypes: true, code: { regExp: re2RegExp } });
  for (const keyword of ANNOTATION_KEYWORDS) ajv.addKeyword({ keyword });
  registerFormats(ajv);
  return ajv;
}

let sharedAjv: Ajv | undefined;

/**
 * Turns an OpenAPI v3.0 structural schema into the JSON Schema dialect ajv speaks: boolean
 * exclusiveMinimum/Maximum become numbers, int-or-string becomes an explicit union, unknown formats go.
 */
export function toAjvSchema(schema: JSONSchemaProps, warnings: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    switch (key) {
      case 'properties':
        out.properties = Object.fromEntries(Object.entries(value as Record<string, JSONSchemaProps>).map(([name, child]) => [name, toAjvSchema(child, warnings)]));
        break;
      case 'items':
      case 'not':
        out[key] = toAjvSchema(value as JSONSchemaProps, warnings);
        break;
      case 'additionalProperties':
        out[key] = typeof value === 'boolean' ? value : toAjvSchema(value as JSONSchemaProps, warnings);
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
        out[key] = (value as JSONSchemaProps[]).map((child) => toAjvSchema(child, warnings));
        break;
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        break; // handled with minimum/maximum below
      case 'format':
        if (KNOWN_FORMATS.has(value as string)) out.format = value;
        else warnings.push(`format ${JSON.stringify(value)} is not known and is ignored`);
        break;
      case 'default':
        break; // applied by applyDefaults, not by ajv
      default:
        out[key] = value;
    }
  }
  if (schema.exclusiveMinimum && schema.minimum !== undefined) {
    out.exclusiveMinimum = schema.minimum;
    delete out.minimum;
  }
  if (schema.exclusiveMaximum && schema.maximum !== undefined) {
    out.exclusiveMaximum = schema.maximum;
    delete out.maximum;
  }
  if (schema['x-kubernetes-int-or-string'] && !schema.type) {
    // Kubernetes applies type-specific keywords next to int-or-string to the matching type only (how
    // controller-gen writes quantities): move them into the branch of their type, so strict types hold.
    const integer: Record<string, unknown> = { type: 'integer' };
    const string: Record<string, unknown> = { type: 'string' };
    for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']) moveKeyword(out, integer, key);
    for (const key of ['pattern', 'minLength', 'maxLength', 'format']) moveKeyword(out, string, key);
    const union = { anyOf: [integer, string] };
    if (out.anyOf) out.allOf = [...((out.allOf as unknown[]) ?? []), union];
    else Object.assign(out, union);
  }
  // ajv's numeric formats need the type to be numeric; Kubernetes allows int32/int64 on integers only.
  if (out.format && ['int32', 'int64', 'float', 'double'].includes(out.format as string) && schema.type !== 'integer' && schema.type !== 'number') delete out.format;
  if (out.nullable && !out.type) delete out.nullable;
  return out;
}

function moveKeyword(from: Record<string, unknown>, to: Record<string, unknown>, key: string): void {
  if (from[key] === undefined) return;
  to[key] = from[key];
  delete from[key];
}

export interface PruneResult {
  /** Paths of fields the schema does not declare (already removed from the object). */
  unknownFields: string[];
}

export class ObjectSchema {
  private readonly validateFn: BudgetedValidator;
  readonly warnings: string[] = [];
  /** Paths (schema segments, '*' for list items / map values) of fields declared immutable. */
  private readonly immutable: ImmutableField[] = [];

  constructor(readonly schema: JSONSchemaProps) {
    sharedAjv ??= createAjv();
    const root = toAjvSchema({ ...schema, properties: { ...schema.properties, metadata: { type: 'object' } } }, this.warnings);
    this.validateFn = withPatternBudget(sharedAjv.compile(root));
    collectImmutable(schema, [], this.immutable, this.warnings);
  }

  /**
   * Removes fields the schema does not declare, and nulls where the schema does not allow them
   * (Kubernetes prunes those before defaulting). Returns the unknown paths for fieldValidation.
   */
  prune(object: Record<string, unknown>): PruneResult {
    const unknownFields: string[] = [];
    for (const key of Object.keys(object)) {
      if (key === 'apiVersion' || key === 'kind') continue;
      if (key === 'metadata') {
        pruneMetadata(object.metadata, unknownFields);
        continue;
      }
      const child = this.schema.properties?.[key];
      if (!child && !this.schema['x-kubernetes-preserve-unknown-fields']) {
        unknownFields.push(key);
        delete object[key];
      } else if (child) pruneValue(object, key, child, [key], unknownFields);
    }
    return { unknownFields };
  }

  applyDefaults(object: Record<string, unknown>): void {
    applyDefaults(object, this.schema, true);
  }

  validate(object: Record<string, unknown>): FieldError[] {
    const errors: FieldError[] = [];
    // A client can cause any number of errors (20,000 bad list items); a Status shows at most 100 causes and
    // collapsing unions compares errors pairwise, so only the first MAX_SCHEMA_ERRORS are turned into causes.
    if (!this.validateFn(object)) pushAll(errors, ajvErrorsToFieldErrors((this.validateFn.errors ?? []).slice(0, MAX_SCHEMA_ERRORS)));
    checkLists(object, this.schema, [], errors);
    return dedupe(errors);
  }

  /** Immutable fields (`self == oldSelf`) whose value differs between the stored and the new object. */
  checkImmutable(newObject: Record<string, unknown>, oldObject: Record<string, unknown>): FieldError[] {
    const errors: FieldError[] = [];
    for (const field of this.immutable) compareImmutable(newObject, oldObject, field, 0, [], errors);
    return errors;
  }
}

interface ImmutableField {
  /** Segments from the root; '*' steps into list items (correlated by map keys) or map values. */
  segments: Array<string | { listMapKeys?: string[] }>;
  message: string;
}

const IMMUTABLE_RULE = /^\s*self\s*==\s*oldSelf\s*$/;

function collectImmutable(schema: JSONSchemaProps, segments: ImmutableField['segments'], out: ImmutableField[], warnings: string[]): void {
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    if (IMMUTABLE_RULE.test(rule.rule)) out.push({ segments: [...segments], message: rule.message ?? 'Value is immutable' });
    else warnings.push(`validation rule ${JSON.stringify(rule.rule)} at ${renderSegments(segments)} is not supported and is not enforced`);
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) collectImmutable(child, [...segments, name], out, warnings);
  if (schema.items) {
    const keys = schema['x-kubernetes-list-type'] === 'map' ? schema['x-kubernetes-list-map-keys'] ?? [] : undefined;
    // Transition rules only make sense where old and new items can be paired: list-type=map lists.
    if (keys) collectImmutable(schema.items, [...segments, { listMapKeys: keys }], out, warnings);
    else {
      // Items of other lists cannot be paired: their rules are not enforced either, and say so.
      const unpaired: ImmutableField[] = [];
      collectImmutable(schema.items, [...segments, {}], unpaired, warnings);
      for (const field of unpaired) warnings.push(`validation rule "self == oldSelf" at ${renderSegments(field.segments)} is not supported and is not enforced`);
    }
  }
  const values = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  if (values) collectImmutable(values, [...segments, {}], out, warnings);
}

function renderSegments(segments: ImmutableField['segments']): string {
  return segments.map((segment) => (typeof segment === 'string' ? segment : '[*]')).join('.') || '<root>';
}

function compareImmutable(
  newValue: unknown,
  oldValue: unknown,
  field: ImmutableField,
  index: number,
  path: Array<string | number>,
  errors: FieldError[],
): void {
  if (index === field.segments.length) {
    if (oldValue !== undefined && !jsonEqual(newValue, oldValue)) {
      errors.push({ field: fieldPath(path), reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(newValue)}: ${field.message}` });
    }
    return;
  }
  const segment = field.segments[index];
  if (typeof segment === 'string') {
    if (!isPlainObject(oldValue)) return;
    const next = isPlainObject(newValue) ? newValue[segment] : undefined;
    compareImmutable(next, oldValue[segment], field, index + 1, [...path, segment], errors);
    return;
  }
  if (segment.listMapKeys) {
    if (!Array.isArray(oldValue) || !Array.isArray(newValue)) return;
    const keys = segment.listMapKeys;
    const keyOf = (item: unknown) => (isPlainObject(item) ? JSON.stringify(keys.map((key) => item[key])) : undefined);
    const oldByKey = new Map(oldValue.map((item) => [keyOf(item), item]));
    newValue.forEach((item, position) => {
      const previous = oldByKey.get(keyOf(item));
      if (previous !== undefined) compareImmutable(item, previous, field, index + 1, [...path, position], errors);
    });
    return;
  }
  if (!isPlainObject(oldValue) || !isPlainObject(newValue)) return;
  for (const key of Object.keys(newValue)) {
    if (key in oldValue) compareImmutable(newValue[key], oldValue[key], field, index + 1, [...path, key], errors);
  }
}

function pruneMetadata(metadata: unknown, unknownFields: string[]): void {
  if (!isPlainObject(metadata)) return;
  for (const key of Object.keys(metadata)) {
    if (!OBJECT_META_FIELDS.has(key)) {
      unknownFields.push(`metadata.${key}`);
      delete metadata[key];
    }
  }
}

function pruneValue(parent: Record<string, unknown> | unknown[], key: string | number, schema: JSONSchemaProps, path: Array<string | number>, unknownFields: string[]): void {
  const value = (parent as Record<string | number, unknown>)[key];
  if (value === null) {
    if (!schema.nullable) {
      if (Array.isArray(parent)) return; // a null list item is a validation error, not a pruning
      delete (parent as Record<string, unknown>)[key as string];
    }
    return;
  }
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties && !schema.items && !schema.additionalProperties) return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((_, index) => pruneValue(value, index, schema.items!, [...path, index], unknownFields));
    return;
  }
  if (!isPlainObject(value)) return;
  for (const childKey of Object.keys(value)) {
    if (schema['x-kubernetes-embedded-resource'] && (childKey === 'apiVersion' || childKey === 'kind' || childKey === 'metadata')) continue;
    const child = childSchema(schema, childKey);
    if (child) pruneValue(value, childKey, child, [...path, childKey], unknownFields);
    else if (!schema['x-kubernetes-preserve-unknown-fields'] && schema.additionalProperties !== true) {
      unknownFields.push(fieldPath([...path, childKey]));
      delete value[childKey];
    }
  }
}

function applyDefaults(value: unknown, schema: JSONSchemaProps, isRoot = false): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applyDefaults(item, schema.items);
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    if (isRoot && name === 'metadata') continue;
    if (value[name] === undefined && child.default !== undefined) value[name] = cloneJson(child.default);
    if (value[name] !== undefined) applyDefaults(value[name], child);
  }
  const values = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  if (values) for (const key of Object.keys(value)) if (!schema.properties?.[key]) applyDefaults(value[key], values);
}

/** Uniqueness that JSON Schema cannot express: list-type=set items and list-type=map keys. */
function checkLists(value: unknown, schema: JSONSchemaProps, path: Array<string | number>, errors: FieldError[]): void {
  if (Array.isArray(value)) {
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'set' || listType === 'map') {
      const seen = new Set<string>();
      value.forEach((item, index) => {
        const keys = schema['x-kubernetes-list-map-keys'] ?? [];
        const identity = listType === 'map' && isPlainObject(item) ? JSON.stringify(keys.map((key) => item[key])) : JSON.stringify(item);
        if (seen.has(identity)) {
          const shown = listType === 'map' && isPlainObject(item) ? Object.fromEntries(keys.map((key) => [key, item[key]])) : item;
          errors.push({ field: fieldPath([...path, index]), reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(shown)}` });
        }
        seen.add(identity);
      });
    }
    if (schema.items) value.forEach((item, index) => checkLists(item, schema.items!, [...path, index], errors));
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const childSchemaProps = childSchema(schema, key);
    if (childSchemaProps && (Array.isArray(child) || isPlainObject(child))) checkLists(child, childSchemaProps, [...path, key], errors);
  }
}

function pointerToSegments(pointer: string): Array<string | number> {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Maps ajv's errors onto Kubernetes field errors with the same reasons and wording kubectl shows. */
export function ajvErrorsToFieldErrors(ajvErrors: ErrorObject[]): FieldError[] {
  return collapseUnions(ajvErrors).map((error) => {
    const segments = pointerToSegments(error.instancePath);
    const path = fieldPath(segments);
    const value = error.data;
    const params = error.params as Record<string, unknown>;
    switch (error.keyword) {
      case 'required': {
        const field = fieldPath([...segments, params.missingProperty as string]);
        return { field, reason: 'FieldValueRequired', message: 'Required value' };
      }
      case 'type':
        return { field: path, reason: 'FieldValueInvalid', message: `Invalid value: "${jsonType(value)}": ${path} in body must be of type ${params.type}: "${jsonType(value)}"` };
      case 'enum': {
        const allowed = (params.allowedValues as unknown[]).map((item) => JSON.stringify(item)).join(', ');
        return { field: path, reason: 'FieldValueNotSupported', message: `Unsupported value: ${renderValue(value)}: supported values: ${allowed}` };
      }
      case 'format':
        return { field: path, reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(value)}: ${path} in body must be of type ${params.format}: ${renderValue(value)}` };
      case 'pattern':
        return { field: path, reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(value)}: ${path} in body should match '${params.pattern}'` };
      case PATTERN_BUDGET_KEYWORD:
        return { field: path || '<root>', reason: 'FieldValueForbidden', message: `Forbidden: ${error.message}` };
      case 'maxLength':
        return { field: path, reason: 'FieldValueTooLong', message: `Too long: may not be more than ${params.limit} bytes` };
      case 'minLength':
        return { field: path, reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(value)}: ${path} in body should be at least ${params.limit} chars long` };
      case 'maxItems':
        return { field: path, reason: 'FieldValueTooMany', message: `Too many: ${Array.isArray(value) ? value.length : '?'}: must have at most ${params.limit} items` };
      case 'minItems':
        return { field: path, reason: 'FieldValueInvalid', message: `Invalid value: ${Array.isArray(value) ? value.length : 0}: ${path} in body should have at least ${params.limit} items` };
      case 'maximum':
      case 'exclusiveMaximum':
        return { field: path, reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(value)}: ${path} in body should be less than ${error.keyword === 'maximum' ? 'or equal to ' : ''}${params.limit}` };
      case 'minimum':
      case 'exclusiveMinimum':
        return { field: path, reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(value)}: ${path} in body should be greater than ${error.keyword === 'minimum' ? 'or equal to ' : ''}${params.limit}` };
      case 'uniqueItems':
        return { field: path, reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(value)}` };
      default:
        return { field: path || '<root>', reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(value)}: ${path || 'body'} ${error.message ?? 'is invalid'}` };
    }
  });
}

/**
 * A failed anyOf/oneOf reports every branch's errors. When the value's type fits exactly one branch (an
 * int-or-string given a string that misses the pattern), that branch's errors say what is wrong; otherwise
 * only the union's own summary is kept.
 */
function collapseUnions(errors: ErrorObject[]): ErrorObject[] {
  const unions = errors.filter((error) => error.keyword === 'anyOf' || error.keyword === 'oneOf');
  const replaced = new Set<ErrorObject>();
  const kept = new Set<ErrorObject>();
  for (const union of unions) {
    const branches = new Map<string, ErrorObject[]>();
    for (const error of errors) {
      if (error === union || !error.schemaPath.startsWith(union.schemaPath + '/')) continue;
      const branch = error.schemaPath.slice(union.schemaPath.length + 1).split('/')[0];
      if (!branches.has(branch)) branches.set(branch, []);
      branches.get(branch)!.push(error);
    }
    const typeFits = [...branches.values()].filter((branchErrors) => !branchErrors.some((error) => error.keyword === 'type' && error.instancePath === union.instancePath));
    if (typeFits.length === 1) {
      replaced.add(union);
      for (const error of typeFits[0]) kept.add(error);
    }
  }
  return errors.filter((error) => {
    if (replaced.has(error)) return false;
    if (kept.has(error)) return true;
    return !unions.some((union) => error !== union && error.schemaPath.startsWith(union.schemaPath + '/'));
  });
}

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const id = `${error.field}\u0000${error.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

