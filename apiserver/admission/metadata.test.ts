import { describe, expect, it } from '@jest/globals';
import { isPathSegmentName, validateName, validateObjectMeta } from './metadata.ts';

const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const NAME_PART_MESSAGE =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MESSAGE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

const meta = (extra: Record<string, unknown>) => ({ name: 'main', namespace: 'prod', ...extra });

describe('validateName', () => {
  it('DNS-1123 labels: lower-case alphanumerics and dashes, at most 63 characters, no dots', () => {
    expect(validateName('my-name', 'dns1123-label')).toEqual([]);
    expect(validateName('123-abc', 'dns1123-label')).toEqual([]);
    expect(validateName('a'.repeat(63), 'dns1123-label')).toEqual([]);
    expect(validateName('my.name', 'dns1123-label')).toEqual([LABEL_MESSAGE]);
    expect(validateName('My-Name', 'dns1123-label')).toEqual([LABEL_MESSAGE]);
    expect(validateName('-a', 'dns1123-label')).toEqual([LABEL_MESSAGE]);
    expect(validateName('a-', 'dns1123-label')).toEqual([LABEL_MESSAGE]);
    expect(validateName('a'.repeat(64), 'dns1123-label')).toEqual(['must be no more than 63 characters']);
  });

  it('DNS-1123 subdomains: dots allowed between labels, at most 253 characters', () => {
    expect(validateName('example.com', 'dns1123-subdomain')).toEqual([]);
    expect(validateName('a'.repeat(64), 'dns1123-subdomain')).toEqual([]);
    expect(validateName(`${'a'.repeat(63)}.`.repeat(3) + 'a'.repeat(61), 'dns1123-subdomain')).toEqual([]);
    expect(validateName('a..b', 'dns1123-subdomain')).toEqual([SUBDOMAIN_MESSAGE]);
    expect(validateName('.a', 'dns1123-subdomain')).toEqual([SUBDOMAIN_MESSAGE]);
    expect(validateName('a_b', 'dns1123-subdomain')).toEqual([SUBDOMAIN_MESSAGE]);
    expect(validateName('a'.repeat(254), 'dns1123-subdomain')).toEqual(['must be no more than 253 characters']);
    expect(validateName(`${'A'.repeat(254)}`, 'dns1123-subdomain')).toEqual(['must be no more than 253 characters', SUBDOMAIN_MESSAGE]);
  });
});

describe('isPathSegmentName', () => {
  it('refuses names that cannot be a URL path segment', () => {
    expect(isPathSegmentName('a')).toBe(true);
    for (const name of ['.', '..', 'a/b', 'a%2Fb']) expect(isPathSegmentName(name)).toBe(false);
  });
});

describe('validateObjectMeta', () => {
  it('accepts well-formed metadata', () => {
    expect(validateObjectMeta(meta({
      labels: { app: 'web', 'app.kubernetes.io/name': 'web', empty: '' },
      annotations: { 'example.com/note': 'anything at all: ünïcode, spaces' },
      finalizers: ['example.com/cleanup', 'kubernetes'],
      ownerReferences: [{ apiVersion: 'v1', kind: 'Namespace', name: 'prod', uid: 'u1', controller: true }, { apiVersion: 'v1', kind: 'X', name: 'y', uid: 'u2', controller: false }],
    }), 'dns1123-label', true)).toEqual([]);
  });

  it('name is required and checked with the resource name format, in Kubernetes wording', () => {
    expect(validateObjectMeta({ namespace: 'prod' }, 'dns1123-label', true)).toEqual([
      { field: 'metadata.name', reason: 'FieldValueRequired', message: 'Required value: name or generateName is required' },
    ]);
    expect(validateObjectMeta(meta({ name: 'my.vpc' }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.name', reason: 'FieldValueInvalid', message: `Invalid value: "my.vpc": ${LABEL_MESSAGE}` },
    ]);
    expect(validateObjectMeta(meta({ name: 'my.vpc' }), 'dns1123-subdomain', true)).toEqual([]);
    expect(validateObjectMeta(meta({ name: 'My_VPC' }), 'dns1123-subdomain', true)).toEqual([
      { field: 'metadata.name', reason: 'FieldValueInvalid', message: `Invalid value: "My_VPC": ${SUBDOMAIN_MESSAGE}` },
    ]);
  });

  it('namespace is required for namespaced kinds and forbidden for cluster-scoped ones', () => {
    expect(validateObjectMeta({ name: 'a' }, 'dns1123-label', true)).toEqual([{ field: 'metadata.namespace', reason: 'FieldValueRequired', message: 'Required value' }]);
    expect(validateObjectMeta({ name: 'a', namespace: 'prod' }, 'dns1123-label', false)).toEqual([
      { field: 'metadata.namespace', reason: 'FieldValueForbidden', message: 'Forbidden: not allowed on this type' },
    ]);
    expect(validateObjectMeta({ name: 'a', namespace: '' }, 'dns1123-label', false)).toEqual([]);
  });

  it('label keys are qualified names with an optional DNS subdomain prefix', () => {
    expect(validateObjectMeta(meta({ labels: { '-bad': 'x' } }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.labels', reason: 'FieldValueInvalid', message: `Invalid value: "-bad": ${NAME_PART_MESSAGE}` },
    ]);
    expect(validateObjectMeta(meta({ labels: { [`${'k'.repeat(64)}`]: 'x' } }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.labels', reason: 'FieldValueInvalid', message: `Invalid value: "${'k'.repeat(64)}": name part must be no more than 63 characters` },
    ]);
    expect(validateObjectMeta(meta({ labels: { 'Example.com/app': 'x' } }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.labels', reason: 'FieldValueInvalid', message: `Invalid value: "Example.com/app": prefix part ${SUBDOMAIN_MESSAGE}` },
    ]);
    expect(validateObjectMeta(meta({ labels: { '/app': 'x' } }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.labels', reason: 'FieldValueInvalid', message: 'Invalid value: "/app": prefix part must be non-empty' },
    ]);
    // As IsQualifiedName: an empty name part fails both the emptiness and the pattern check.
    expect(validateObjectMeta(meta({ labels: { 'example.com/': 'x' } }), 'dns1123-label', true).map((error) => error.message)).toEqual([
      'Invalid value: "example.com/": name part must be non-empty',
      `Invalid value: "example.com/": ${NAME_PART_MESSAGE}`,
    ]);
    expect(validateObjectMeta(meta({ labels: { 'a/b/c': 'x' } }), 'dns1123-label', true)).toEqual([
      {
        field: 'metadata.labels',
        reason: 'FieldValueInvalid',
        message:
          "Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
      },
    ]);
  });

  it('label values: at most 63 characters of the label alphabet, or empty', () => {
    expect(validateObjectMeta(meta({ labels: { app: 'has space' } }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.labels', reason: 'FieldValueInvalid', message: `Invalid value: "has space": ${LABEL_VALUE_MESSAGE}` },
    ]);
    expect(validateObjectMeta(meta({ labels: { app: 'v'.repeat(64) } }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.labels', reason: 'FieldValueInvalid', message: `Invalid value: "${'v'.repeat(64)}": must be no more than 63 characters` },
    ]);
    expect(validateObjectMeta(meta({ labels: { app: 3 } }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.labels[app]', reason: 'FieldValueInvalid', message: 'Invalid value: 3: must be a string' },
    ]);
    expect(validateObjectMeta(meta({ labels: ['a'] }), 'dns1123-label', true)[0]).toMatchObject({ field: 'metadata.labels', message: 'Invalid value: ["a"]: must be a map of strings' });
  });

  it('annotation keys are checked like label keys; values are free, but 256 KiB in total at most', () => {
    expect(validateObjectMeta(meta({ annotations: { 'bad key': 'x' } }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.annotations', reason: 'FieldValueInvalid', message: `Invalid value: "bad key": ${NAME_PART_MESSAGE}` },
    ]);
    expect(validateObjectMeta(meta({ annotations: { a: 'x'.repeat(256 * 1024 - 1) } }), 'dns1123-label', true)).toEqual([]);
    expect(validateObjectMeta(meta({ annotations: { a: 'x'.repeat(256 * 1024) } }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.annotations', reason: 'FieldValueTooLong', message: 'Too long: must have at most 262144 bytes' },
    ]);
  });

  it('finalizers: qualified names without duplicates', () => {
    expect(validateObjectMeta(meta({ finalizers: ['example.com/a', 'example.com/a'] }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.finalizers[1]', reason: 'FieldValueDuplicate', message: 'Duplicate value: "example.com/a"' },
    ]);
    expect(validateObjectMeta(meta({ finalizers: ['bad finalizer'] }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.finalizers[0]', reason: 'FieldValueInvalid', message: `Invalid value: "bad finalizer": ${NAME_PART_MESSAGE}` },
    ]);
    expect(validateObjectMeta(meta({ finalizers: [1] }), 'dns1123-label', true)[0]).toMatchObject({ field: 'metadata.finalizers[0]', message: 'Invalid value: 1: must be a string' });
    expect(validateObjectMeta(meta({ finalizers: 'a' }), 'dns1123-label', true)[0]).toMatchObject({ field: 'metadata.finalizers', message: 'Invalid value: "a": must be a list of strings' });
  });

  it('owner references need apiVersion, kind, name and uid, and at most one controller', () => {
    expect(validateObjectMeta(meta({ ownerReferences: [{ kind: 'Namespace', name: '' }] }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.ownerReferences[0].apiVersion', reason: 'FieldValueRequired', message: 'Required value' },
      { field: 'metadata.ownerReferences[0].name', reason: 'FieldValueRequired', message: 'Required value' },
      { field: 'metadata.ownerReferences[0].uid', reason: 'FieldValueRequired', message: 'Required value' },
    ]);
    const owner = (uid: string, controller: boolean) => ({ apiVersion: 'v1', kind: 'Namespace', name: 'prod', uid, controller });
    expect(validateObjectMeta(meta({ ownerReferences: [owner('a', true), owner('b', true)] }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.ownerReferences', reason: 'FieldValueInvalid', message: 'Invalid value: 2: Only one reference can have Controller set to true' },
    ]);
    expect(validateObjectMeta(meta({ ownerReferences: ['x'] }), 'dns1123-label', true)[0]).toMatchObject({ field: 'metadata.ownerReferences[0]', message: 'Invalid value: "x": must be an object' });
  });

  it('generateName must be a string', () => {
    expect(validateObjectMeta(meta({ generateName: 5 }), 'dns1123-label', true)).toEqual([
      { field: 'metadata.generateName', reason: 'FieldValueInvalid', message: 'Invalid value: 5: must be a string' },
    ]);
  });
});
