// Conventions every PhotonCloud CRD follows, checked on the YAML itself (no API server needed), plus the
// examples in crds/examples/ (valid) and hand-made broken objects (invalid) run through ajv the way the
// API server's admission does. Also checks that the generated types in apis/ are up to date.

import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse, parseAllDocuments } from 'yaml';

// ajv-formats is CommonJS; depending on the loader its function is the default export or sits on .default.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv, formats: string[]) => Ajv;

type Schema = Record<string, any>;
type Obj = Record<string, any>;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CRD_DIR = path.join(ROOT, 'crds');
const EXAMPLE_DIR = path.join(CRD_DIR, 'examples');

/** The kinds PhotonCloud serves, with scope and whether an object needs a spec at all. */
const EXPECTED_KINDS: Record<string, { area: string; scope: 'Cluster' | 'Namespaced'; specRequired: boolean }> = {
  Organization: { area: 'iam', scope: 'Cluster', specRequired: false },
  Project: { area: 'iam', scope: 'Cluster', specRequired: true },
  OrganizationRoleBinding: { area: 'iam', scope: 'Cluster', specRequired: true },
  User: { area: 'iam', scope: 'Cluster', specRequired: false },
  Group: { area: 'iam', scope: 'Cluster', specRequired: false },
  Vpc: { area: 'network', scope: 'Namespaced', specRequired: true },
  Subnet: { area: 'network', scope: 'Namespaced', specRequired: true },
  Port: { area: 'network', scope: 'Namespaced', specRequired: true },
  SecurityGroup: { area: 'network', scope: 'Namespaced', specRequired: false },
  VirtualMachine: { area: 'compute', scope: 'Namespaced', specRequired: true },
  Node: { area: 'compute', scope: 'Cluster', specRequired: false },
  Image: { area: 'compute', scope: 'Namespaced', specRequired: true },
  Zone: { area: 'dns', scope: 'Namespaced', specRequired: true },
  LoadBalancer: { area: 'lb', scope: 'Namespaced', specRequired: true },
  Bucket: { area: 'storage', scope: 'Namespaced', specRequired: false },
  StorageClass: { area: 'storage', scope: 'Cluster', specRequired: true },
  Volume: { area: 'storage', scope: 'Namespaced', specRequired: true },
  VolumeSnapshot: { area: 'storage', scope: 'Namespaced', specRequired: true },
};

/**
 * Fields declared immutable (`self == oldSelf`). Listed here so that adding or dropping one is a
 * deliberate, reviewed change: clients and controllers rely on these never changing.
 */
const EXPECTED_IMMUTABLE: Record<string, string[]> = {
  Organization: [],
  Project: ['spec.organizationRef'],
  OrganizationRoleBinding: ['spec.organizationRef', 'spec.roleRef'],
  User: [],
  Group: [],
  Vpc: [],
  Subnet: ['spec.cidr', 'spec.vpcRef'],
  Port: ['spec.ipAddress', 'spec.macAddress', 'spec.subnetRef'],
  SecurityGroup: [],
  VirtualMachine: [
    'spec.boot.imageRef',
    'spec.disks[].imageRef',
    'spec.networks[].ipAddress',
    'spec.networks[].portRef',
    'spec.networks[].subnetRef',
  ],
  Node: [],
  Image: ['spec.format', 'spec.sha256', 'spec.source'],
  Zone: ['spec.domain', 'spec.vpcRef'],
  LoadBalancer: [],
  Bucket: [],
  StorageClass: ['spec.backend', 'spec.ceph.pool'],
  Volume: ['spec.source', 'spec.storageClassName'],
  VolumeSnapshot: ['spec.volumeRef'],
};

/** Short names of built-in Kubernetes resources (kubectl api-resources, 1.29–1.33): ours must not shadow them. */
const CORE_SHORT_NAMES = [
  'cm', 'cj', 'crd', 'crds', 'cs', 'csr', 'deploy', 'ds', 'ep', 'ev', 'hpa', 'ing', 'limits', 'netpol', 'no',
  'ns', 'pc', 'pdb', 'po', 'psp', 'pv', 'pvc', 'quota', 'rc', 'rs', 'sa', 'sc', 'sts', 'svc', 'vac',
];

/** <thing>Ref fields that point at Kubernetes kinds and so take Kubernetes' reference shape, not ours. */
const KUBERNETES_REFS: Record<string, string[]> = {
  OrganizationRoleBinding: ['spec.roleRef'],
};

const ALLOWED_FORMATS = [
  'ipv4', 'ipv6', 'cidr', 'mac', 'hostname', 'uri', 'date-time', 'int32', 'int64', 'byte', 'uuid', 'email',
];
const INTEGER_FORMATS = ['int32', 'int64'];

/** Keywords a schema node may use. Anything else (title, $ref, example, ...) is a mistake here. */
const ALLOWED_KEYWORDS = new Set([
  'type', 'description', 'properties', 'items', 'additionalProperties', 'required', 'enum', 'default',
  'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'pattern', 'format', 'nullable',
  'oneOf', 'anyOf', 'allOf', 'not',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-validations',
  'x-kubernetes-int-or-string', 'x-kubernetes-preserve-unknown-fields',
]);
const JUNCTORS = ['oneOf', 'anyOf', 'allOf', 'not'] as const;
const SCHEMA_TYPES = ['object', 'array', 'string', 'integer', 'number', 'boolean'];

const READY_PATH = '.status.conditions[?(@.type=="Ready")].status';
const AGE_PATH = '.metadata.creationTimestamp';

// ---------------------------------------------------------------------------------------------------
// Loading

interface Crd {
  file: string;
  text: string;
  doc: Obj;
  kind: string;
  group: string;
  area: string;
  version: Obj;
  schema: Schema;
}

function loadCrds(): Crd[] {
  return readdirSync(CRD_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(path.join(CRD_DIR, file), 'utf8');
      const doc = parse(text) as Obj;
      const version = doc.spec?.versions?.[0] ?? {};
      return {
        file,
        text,
        doc,
        kind: doc.spec?.names?.kind,
        group: doc.spec?.group,
        area: String(doc.spec?.group ?? '').split('.')[0]!,
        version,
        schema: version.schema?.openAPIV3Schema ?? {},
      };
    });
}

const CRDS = loadCrds();
const BY_KIND = new Map(CRDS.map((c) => [c.kind, c]));

function crd(kind: string): Crd {
  const c = BY_KIND.get(kind);
  if (!c) throw new Error(`no CRD for ${kind}`);
  return c;
}

function exampleFile(kind: string): string {
  return path.join(EXAMPLE_DIR, `${kind.toLowerCase()}.yaml`);
}

function loadExample(kind: string): Obj {
  return parse(readFileSync(exampleFile(kind), 'utf8')) as Obj;
}

// ---------------------------------------------------------------------------------------------------
// Schema walking

interface Visit {
  node: Schema;
  /** Dotted path, "[]" for array items, "{}" for map values; "" for the root. */
  path: string;
  /** How the node is reached: as a named property, as array items, as map values, or the root. */
  via: 'root' | 'property' | 'items' | 'values';
  /** True for nodes reached through an atomic or set list (no per-item identity). */
  uncorrelated: boolean;
}

function walk(schema: Schema): Visit[] {
  const out: Visit[] = [];
  const go = (node: Schema, p: string, via: Visit['via'], uncorrelated: boolean): void => {
    out.push({ node, path: p, via, uncorrelated });
    for (const [name, child] of Object.entries<Schema>(node.properties ?? {})) {
      go(child, p ? `${p}.${name}` : name, 'property', uncorrelated);
    }
    if (node.items) go(node.items, `${p}[]`, 'items', uncorrelated || node['x-kubernetes-list-type'] !== 'map');
    if (node.additionalProperties && typeof node.additionalProperties === 'object') {
      go(node.additionalProperties, `${p}{}`, 'values', uncorrelated);
    }
  };
  go(schema, '', 'root', false);
  return out;
}

/** Schema nodes reached from junctor branches (oneOf/anyOf/allOf/not), with where they hang. */
function junctorBranches(node: Schema): Schema[] {
  const out: Schema[] = [];
  for (const j of JUNCTORS) {
    const v = node[j];
    if (v === undefined) continue;
    for (const branch of Array.isArray(v) ? v : [v]) {
      out.push(branch, ...junctorBranches(branch));
    }
  }
  return out;
}

/**
 * The schema node a printer-column or selectable-field JSONPath points at. Supports the subset the
 * conventions allow: .field, [n] and [?(@.field=="value")]; returns undefined for anything else.
 */
function resolveJsonPath(schema: Schema, jsonPath: string): Schema | undefined {
  const token = /^(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[\?\(@\.([A-Za-z_][A-Za-z0-9_]*)=="[^"]*"\)\])/;
  let node: Schema | undefined = schema;
  let rest = jsonPath;
  if (!rest.startsWith('.')) return undefined;
  while (rest && node) {
    const m = token.exec(rest);
    if (!m) return undefined;
    rest = rest.slice(m[0].length);
    if (m[1] !== undefined) {
      // metadata at the root is just `type: object`; allow the well-known ObjectMeta fields through it.
      if (node === schema.properties?.metadata) {
        return ['name', 'namespace', 'creationTimestamp', 'deletionTimestamp', 'uid', 'generation'].includes(m[1])
          ? { type: m[1] === 'generation' ? 'integer' : 'string', format: m[1].endsWith('Timestamp') ? 'date-time' : undefined }
          : undefined;
      }
      node = node.type === 'object' ? node.properties?.[m[1]] : undefined;
    } else if (m[2] !== undefined) {
      node = node.type === 'array' ? node.items : undefined;
    } else {
      const items: Schema | undefined = node.type === 'array' ? node.items : undefined;
      node = items?.properties?.[m[3]!] ? items : undefined;
    }
  }
  return rest ? undefined : node;
}

// ---------------------------------------------------------------------------------------------------
// ajv, configured like the API server's admission: strict, Kubernetes' vendor keywords as annotations.

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  for (const keyword of [
    'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-validations',
    'x-kubernetes-int-or-string', 'x-kubernetes-preserve-unknown-fields',
  ]) {
    ajv.addKeyword({ keyword });
  }
  addFormats(ajv, ['date-time', 'uri', 'email', 'hostname', 'uuid', 'byte', 'int32', 'int64']);
  // Simple stand-ins for the Kubernetes formats ajv-formats lacks or spells differently.
  ajv.addFormat('ipv4', { type: 'string', validate: (v: string) => net.isIPv4(v) });
  ajv.addFormat('ipv6', { type: 'string', validate: (v: string) => net.isIPv6(v) });
  ajv.addFormat('cidr', {
    type: 'string',
    validate: (v: string) => {
      const [address, prefix, ...extra] = v.split('/');
      if (extra.length || !prefix || !/^\d{1,3}$/.test(prefix)) return false;
      return (net.isIPv4(address!) && +prefix <= 32) || (net.isIPv6(address!) && +prefix <= 128);
    },
  });
  ajv.addFormat('mac', /^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/);
  return ajv;
}

const ajv = makeAjv();

/**
 * The schema as the API server enforces it with fieldValidation=Strict: an object node that lists its
 * properties rejects any other property (Kubernetes would prune it and, strictly, reject the request).
 */
function closed(schema: Schema): Schema {
  const out: Schema = { ...schema };
  if (out.properties) {
    out.properties = Object.fromEntries(Object.entries<Schema>(out.properties).map(([k, v]) => [k, closed(v)]));
    if (out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) {
      out.additionalProperties = false;
    }
  }
  if (out.items) out.items = closed(out.items);
  if (out.additionalProperties && typeof out.additionalProperties === 'object') {
    out.additionalProperties = closed(out.additionalProperties);
  }
  return out;
}

const validators = new Map<string, ReturnType<Ajv['compile']>>();

function validate(kind: string, object: unknown): ErrorObject[] {
  let v = validators.get(kind);
  if (!v) {
    v = ajv.compile(closed(crd(kind).schema));
    validators.set(kind, v);
  }
  return v(object) ? [] : [...(v.errors ?? [])];
}

function describeErrors(errors: ErrorObject[]): string {
  return errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

// ---------------------------------------------------------------------------------------------------

describe('CRD files', () => {
  it('define exactly the PhotonCloud kinds, one per file named <area>.<plural>.yaml', () => {
    expect(CRDS.map((c) => c.kind).sort()).toEqual(Object.keys(EXPECTED_KINDS).sort());
    for (const c of CRDS) {
      expect(c.file).toBe(`${c.area}.${c.doc.spec.names.plural}.yaml`);
    }
  });

  it('parse the same as YAML 1.1 (Go, kubectl) and YAML 1.2 (this repo)', () => {
    // Catches unquoted True/False/yes/no/on/off and octal-looking numbers that Go would read differently.
    for (const c of CRDS) expect([c.file, parse(c.text, { version: '1.1' })]).toEqual([c.file, c.doc]);
  });
});

describe.each(CRDS.map((c) => [c.kind, c] as const))('%s CRD', (kind, c) => {
  const expected = EXPECTED_KINDS[kind]!;
  const names = c.doc.spec.names;
  const visits = walk(c.schema);

  it('is an apiextensions.k8s.io/v1 CustomResourceDefinition named <plural>.<group>', () => {
    expect(c.doc.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(c.doc.kind).toBe('CustomResourceDefinition');
    expect(c.group).toMatch(/^(iam|network|compute|dns|lb|storage)\.photoncloud\.io$/);
    expect(c.area).toBe(expected.area);
    expect(c.doc.metadata.name).toBe(`${names.plural}.${c.group}`);
    expect(c.doc.spec.scope).toBe(expected.scope);
    // Object names must fit the <thing>Ref fields that hold them (DNS-1123 labels, max 63).
    expect(c.doc.metadata.annotations?.['photoncloud.io/name-format']).toBe('dns1123-label');
  });

  it('has consistent names and the photon categories', () => {
    expect(names.kind).toMatch(/^[A-Z][A-Za-z0-9]*$/);
    expect(names.listKind).toBe(`${kind}List`);
    expect(names.singular).toBe(kind.toLowerCase());
    expect(names.plural).toMatch(/^[a-z]+$/);
    expect(names.plural.startsWith(names.singular)).toBe(true);
    expect(names.shortNames?.length).toBeGreaterThan(0);
    for (const s of names.shortNames) expect(s).toMatch(/^[a-z]{2,5}$/);
    expect(names.categories).toEqual(['photon', c.area]);
  });

  it('serves one storage version, v1alpha1, with the status subresource', () => {
    expect(c.doc.spec.versions).toHaveLength(1);
    expect(c.version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
    expect(c.version.subresources).toEqual({ status: {} });
  });

  it('has printer columns an operator can scan, ending with Ready and Age', () => {
    const columns: Obj[] = c.version.additionalPrinterColumns;
    expect(columns.length).toBeGreaterThanOrEqual(2);
    expect(columns.at(-2)).toMatchObject({ name: 'Ready', type: 'string', jsonPath: READY_PATH });
    expect(columns.at(-1)).toMatchObject({ name: 'Age', type: 'date', jsonPath: AGE_PATH });
    expect(columns.at(-2)!.priority ?? 0).toBe(0);
    expect(columns.at(-1)!.priority ?? 0).toBe(0);
    expect(new Set(columns.map((col) => col.name.toUpperCase())).size).toBe(columns.length);
    for (const col of columns) {
      expect(Object.keys(col).every((k) => ['name', 'type', 'jsonPath', 'description', 'priority', 'format'].includes(k))).toBe(true);
      expect(col.name).toMatch(/^[A-Za-z][A-Za-z-]*$/); // no spaces: `kubectl get | awk` keeps working
      expect(col.description).toEqual(expect.any(String));
      expect([0, 1, undefined]).toContain(col.priority);
      expect(['string', 'integer', 'number', 'boolean', 'date']).toContain(col.type);
      const target = resolveJsonPath(c.schema, col.jsonPath);
      if (!target) throw new Error(`${kind} column ${col.name}: ${col.jsonPath} does not resolve in the schema`);
      const compatible: Record<string, string[]> = {
        string: ['string', 'array'], // a list column prints as a list
        integer: ['integer'],
        number: ['integer', 'number'],
        boolean: ['boolean'],
        date: ['string'],
      };
      expect([col.name, compatible[col.type]]).toEqual([col.name, expect.arrayContaining([target.type])]);
      if (col.type === 'date') expect(target.format).toBe('date-time');
    }
    // Default (non-wide) output must fit a terminal: name + at most seven columns (Subnet needs them all).
    expect(columns.filter((col) => !col.priority).length).toBeLessThanOrEqual(7);
  });

  it('declares selectable fields only on scalar string/integer/boolean fields', () => {
    const fields: Obj[] = c.version.selectableFields ?? [];
    expect(fields.length).toBeLessThanOrEqual(8); // the API server's limit
    expect(new Set(fields.map((f) => f.jsonPath)).size).toBe(fields.length);
    for (const f of fields) {
      expect(Object.keys(f)).toEqual(['jsonPath']);
      expect(f.jsonPath).toMatch(/^(\.[A-Za-z][A-Za-z0-9]*)+$/);
      const target = resolveJsonPath(c.schema, f.jsonPath);
      if (!target) throw new Error(`${kind} selectable field ${f.jsonPath} does not resolve in the schema`);
      expect([f.jsonPath, target.type]).toEqual([f.jsonPath, expect.stringMatching(/^(string|integer|boolean)$/)]);
    }
  });

  it('has a structural root: apiVersion, kind, bare metadata, spec and status objects', () => {
    const s = c.schema;
    expect(s.type).toBe('object');
    expect(s.description).toEqual(expect.any(String));
    expect(s.properties.apiVersion).toMatchObject({ type: 'string' });
    expect(s.properties.kind).toMatchObject({ type: 'string' });
    expect(s.properties.metadata).toEqual({ type: 'object' });
    expect(s.properties.spec.type).toBe('object');
    expect(s.properties.status.type).toBe('object');
    expect(Object.keys(s.properties).sort()).toEqual(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    expect((s.required ?? []).includes('spec')).toBe(expected.specRequired);
  });

  it('reports observedGeneration and metav1.Condition conditions in status', () => {
    const status = c.schema.properties.status;
    expect(status.properties.observedGeneration).toMatchObject({ type: 'integer', format: 'int64', minimum: 0 });
    const conditions = status.properties.conditions;
    expect(conditions).toMatchObject({
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    });
    const item = conditions.items;
    expect(item.type).toBe('object');
    expect([...item.required].sort()).toEqual(['lastTransitionTime', 'message', 'reason', 'status', 'type']);
    expect(Object.keys(item.properties).sort()).toEqual(
      ['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type'],
    );
    expect(item.properties.status.enum).toEqual(['True', 'False', 'Unknown']);
    expect(item.properties.lastTransitionTime).toMatchObject({ type: 'string', format: 'date-time' });
    expect(item.properties.observedGeneration).toMatchObject({ type: 'integer', format: 'int64' });
  });

  it('gives every node a type (structural schema) and every field a description', () => {
    for (const { node, path: p, via } of visits) {
      const where = `${kind} ${p || '<root>'}`;
      if (p === 'metadata') continue; // checked above: exactly {type: object}
      const escaped = node['x-kubernetes-int-or-string'] || node['x-kubernetes-preserve-unknown-fields'];
      if (!escaped) expect([where, SCHEMA_TYPES.includes(node.type)]).toEqual([where, true]);
      const needsDescription = via === 'root' || via === 'property' || (via === 'items' && node.type === 'object');
      if (needsDescription) expect([where, typeof node.description]).toEqual([where, 'string']);
      if (node.description) expect([where, node.description.trim()]).toEqual([where, node.description]);
      const unknown = Object.keys(node).filter((k) => !ALLOWED_KEYWORDS.has(k));
      expect([where, unknown]).toEqual([where, []]);
      if (node.properties) expect([where, node.type]).toEqual([where, 'object']);
      if (node.properties) expect([where, node.additionalProperties]).toEqual([where, undefined]);
      if (node.items) expect([where, node.type]).toEqual([where, 'array']);
      for (const r of node.required ?? []) expect([where, r, r in (node.properties ?? {})]).toEqual([where, r, true]);
      if (node.additionalProperties !== undefined) {
        // Only string maps (nodeSelector, label selectors).
        expect([where, node.additionalProperties]).toEqual([where, { type: 'string' }]);
      }
      if (node.enum) {
        for (const value of node.enum) expect([where, typeof value]).toEqual([where, node.type]);
      }
    }
  });

  it('uses oneOf/anyOf/allOf/not only as value validations naming declared fields', () => {
    for (const { node, path: p } of visits) {
      for (const branch of junctorBranches(node)) {
        const keys = Object.keys(branch).filter((k) => !(JUNCTORS as readonly string[]).includes(k));
        expect([kind, p, keys]).toEqual([kind, p, keys.length ? ['required'] : []]);
        for (const r of branch.required ?? []) expect([kind, p, r, r in node.properties]).toEqual([kind, p, r, true]);
      }
    }
  });

  it('uses only the allowed formats, and int32/int64 on every integer', () => {
    for (const { node, path: p } of visits) {
      if (node.format !== undefined) expect([kind, p, ALLOWED_FORMATS.includes(node.format)]).toEqual([kind, p, true]);
      if (node.type === 'integer') expect([kind, p, INTEGER_FORMATS.includes(node.format)]).toEqual([kind, p, true]);
      if (INTEGER_FORMATS.includes(node.format)) expect([kind, p, node.type]).toEqual([kind, p, 'integer']);
      if (node.format === 'cidr') {
        // IPv4 CIDR shape for now; the pattern is what a user sees rejected by kubectl's client-side validation.
        expect([kind, p, node.pattern]).toEqual([kind, p, expect.stringContaining('/(3[0-2]|[12]?[0-9])$')]);
      }
    }
  });

  it('has patterns that compile as unicode RegExps and stay within RE2 (Go) syntax', () => {
    for (const { node, path: p } of visits) {
      if (node.pattern === undefined) continue;
      expect(() => new RegExp(node.pattern, 'u')).not.toThrow();
      expect([kind, p, node.pattern]).toEqual([kind, p, expect.stringMatching(/^\^/)]);
      // No lookaround, backreferences or named groups: Kubernetes evaluates patterns with Go's regexp.
      expect([kind, p, /\(\?[=!<]|\\[1-9]|\\k</.test(node.pattern)]).toEqual([kind, p, false]);
    }
  });

  it('has defaults that validate against their own schema', () => {
    for (const { node, path: p } of visits) {
      if (node.default === undefined) continue;
      expect([kind, p]).not.toEqual([kind, 'metadata']);
      const check = ajv.compile(closed(node));
      expect([kind, p, check(node.default) ? 'valid' : describeErrors(check.errors ?? [])]).toEqual([kind, p, 'valid']);
    }
  });

  it('declares a list type on every array, with required keys for maps and scalar items for sets', () => {
    for (const { node, path: p } of visits) {
      const listType = node['x-kubernetes-list-type'];
      if (node.type !== 'array') {
        expect([kind, p, listType, node['x-kubernetes-list-map-keys']]).toEqual([kind, p, undefined, undefined]);
        continue;
      }
      expect([kind, p, ['atomic', 'set', 'map'].includes(listType)]).toEqual([kind, p, true]);
      if (listType === 'set') expect([kind, p, node.items.type]).toEqual([kind, p, expect.stringMatching(/^(string|integer|boolean)$/)]);
      if (listType === 'map') {
        const keys: string[] = node['x-kubernetes-list-map-keys'] ?? [];
        expect([kind, p, keys.length > 0]).toEqual([kind, p, true]);
        for (const key of keys) {
          const keySchema = node.items.properties?.[key];
          const requiredOrDefaulted = node.items.required?.includes(key) || keySchema?.default !== undefined;
          expect([kind, p, key, keySchema?.type, requiredOrDefaulted]).toEqual([kind, p, key, 'string', true]);
        }
      } else {
        expect([kind, p, node['x-kubernetes-list-map-keys']]).toEqual([kind, p, undefined]);
      }
    }
  });

  it('uses CEL only as `self == oldSelf` on correlatable fields, and lists them as immutable', () => {
    const immutable: string[] = [];
    for (const { node, path: p, uncorrelated } of visits) {
      const rules = node['x-kubernetes-validations'];
      if (rules === undefined) continue;
      // The message names the field below spec, as the API server reports it: "disks[].imageRef is immutable".
      const message = `${p.replace(/^spec\./, '')} is immutable`;
      expect([kind, p, rules]).toEqual([kind, p, [{ rule: 'self == oldSelf', message }]]);
      // Transition rules need old and new values paired: only properties and list-type=map items qualify.
      expect([kind, p, uncorrelated]).toEqual([kind, p, false]);
      immutable.push(p);
    }
    expect(immutable.sort()).toEqual(EXPECTED_IMMUTABLE[kind]);
  });

  it('references other objects with <thing>Ref / <thing>Refs holding DNS-1123 label names', () => {
    for (const { node, path: p } of visits) {
      const field = p.split('.').pop()!;
      const isRef = /Ref$/.test(field) || /Refs\[\]$/.test(field);
      if (!isRef || p.startsWith('status.')) continue;
      // A Kubernetes kind is referenced in Kubernetes' own shape (RBAC's RoleRef: its names may hold colons).
      if (KUBERNETES_REFS[kind]?.includes(p)) {
        expect([kind, p, node.type, [...(node.required ?? [])].sort()]).toEqual([kind, p, 'object', ['apiGroup', 'kind', 'name']]);
        continue;
      }
      // Either the name itself, or an object reference {name} (LocalObjectReference's shape).
      if (node.type === 'object') expect([kind, p, Object.keys(node.properties ?? {}), node.required]).toEqual([kind, p, ['name'], ['name']]);
      const target = node.type === 'object' ? node.properties.name : node;
      expect([kind, p, target.type, target.maxLength, target.pattern]).toEqual([
        kind, p, 'string', 63, '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      ]);
    }
  });

  it('names durations ...Seconds and gives them an integer type', () => {
    for (const { node, path: p } of visits) {
      const field = p.split('.').pop()!;
      if (/(Seconds|Duration|Timeout|Interval|Period)$/i.test(field)) {
        expect([kind, p, field.endsWith('Seconds'), node.type]).toEqual([kind, p, true, 'integer']);
      }
    }
  });
});

describe('short names', () => {
  it('are unique across CRDs and shadow neither built-in resources nor other kinds', () => {
    const all = CRDS.flatMap((c) => (c.doc.spec.names.shortNames as string[]).map((s) => [s, c.kind] as const));
    expect(new Set(all.map(([s]) => s)).size).toBe(all.length);
    const otherNames = (kind: string) =>
      CRDS.filter((c) => c.kind !== kind).flatMap((c) => [c.doc.spec.names.plural, c.doc.spec.names.singular]);
    for (const [short, kind] of all) {
      expect([short, CORE_SHORT_NAMES.includes(short)]).toEqual([short, false]);
      expect([short, otherNames(kind).includes(short)]).toEqual([short, false]);
    }
  });
});

/** Applied first by `kubectl apply -f crds/examples/` (name order): the namespace the namespaced examples live in. */
const NAMESPACE_EXAMPLE = '00-namespace.yaml';
const EXAMPLES_NAMESPACE = 'acme-web';

/** A further object of a kind besides its `<kind>.yaml` (e.g. securitygroup-db.yaml): the kind it must hold. */
function extraExampleKind(file: string): string | undefined {
  const prefix = /^([a-z]+)-[a-z0-9]([-a-z0-9]*[a-z0-9])?\.yaml$/.exec(file)?.[1];
  return Object.keys(EXPECTED_KINDS).find((kind) => kind.toLowerCase() === prefix);
}

describe('examples', () => {
  const files = readdirSync(EXAMPLE_DIR).filter((f) => f.endsWith('.yaml')).sort();
  const perKind = Object.keys(EXPECTED_KINDS).map((k) => `${k.toLowerCase()}.yaml`);
  const extras = files.filter((f) => !perKind.includes(f) && f !== NAMESPACE_EXAMPLE);

  it('exist for every kind; besides, only further objects of a kind (<kind>-<name>.yaml) and their namespace, applied first', () => {
    expect(files).toEqual(expect.arrayContaining(perKind));
    for (const file of extras) expect([file, extraExampleKind(file)]).toEqual([file, expect.any(String)]);
    expect(files[0]).toBe(NAMESPACE_EXAMPLE);
  });

  it.each(Object.keys(EXPECTED_KINDS))('%s example is one commented, valid object', (kind) => {
    expectOneValidObject(readFileSync(exampleFile(kind), 'utf8'), kind);
  });

  it.each(extras.length > 0 ? extras : ['(none)'])('further example %s is one commented, valid object of its kind', (file) => {
    if (file === '(none)') return;
    expectOneValidObject(readFileSync(path.join(EXAMPLE_DIR, file), 'utf8'), extraExampleKind(file)!);
  });

  it('the namespace example is the one namespace every namespaced example uses', () => {
    const text = readFileSync(path.join(EXAMPLE_DIR, NAMESPACE_EXAMPLE), 'utf8');
    expect(text.startsWith('#')).toBe(true);
    const docs = parseAllDocuments(text);
    expect(docs).toHaveLength(1);
    // Labelled as the Project's, so the project-controller adopts it instead of reporting NamespaceConflict.
    expect(docs[0]!.toJS()).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: EXAMPLES_NAMESPACE, labels: { 'iam.photoncloud.io/project': EXAMPLES_NAMESPACE } } });
    for (const file of [...perKind, ...extras]) {
      const object = parse(readFileSync(path.join(EXAMPLE_DIR, file), 'utf8')) as Obj;
      if (EXPECTED_KINDS[object.kind]!.scope === 'Namespaced') expect([file, object.metadata.namespace]).toEqual([file, EXAMPLES_NAMESPACE]);
    }
  });
});

function expectOneValidObject(text: string, kind: string): void {
  expect(text.startsWith('#')).toBe(true); // examples are documentation: say what the object is for
  const docs = parseAllDocuments(text);
  expect(docs).toHaveLength(1);
  const object = docs[0]!.toJS() as Obj;
  expect(parse(text, { version: '1.1' })).toEqual(object);
  const c = crd(kind);
  expect(object.apiVersion).toBe(`${c.group}/v1alpha1`);
  expect(object.kind).toBe(kind);
  expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  if (EXPECTED_KINDS[kind]!.scope === 'Namespaced') expect(object.metadata.namespace).toEqual(expect.any(String));
  else expect(object.metadata.namespace).toBeUndefined();
  const errors = validate(kind, object);
  expect(describeErrors(errors)).toBe('');
}

/** Valid variations on the examples: edge values a too-strict pattern would wrongly reject, and statuses. */
const VALID_VARIANTS: Array<[kind: string, what: string, mutate: (o: Obj) => void]> = [
  ['Vpc', 'a /32 and a /8 block', (o) => { o.spec.cidrBlocks = ['10.0.0.0/8', '192.168.1.1/32']; }],
  ['Subnet', 'a single excluded address and a range', (o) => { o.spec.excludeIPs = ['10.0.0.5', '10.0.0.200..10.0.0.250']; }],
  ['Subnet', 'DHCP switched off', (o) => { o.spec.dhcp = { enabled: false }; }],
  ['Subnet', 'a status', (o) => { o.status = { observedGeneration: 3, gateway: '10.0.0.1', usedIPs: 4, availableIPs: 237, conditions: [] }; }],
  ['SecurityGroup', 'the widest port range', (o) => { o.spec.ingress[0].ports = '1-65535'; }],
  ['SecurityGroup', 'port 65535', (o) => { o.spec.ingress[0].ports = '65535'; }],
  ['SecurityGroup', 'an empty egress list (deny all egress)', (o) => { o.spec.egress = []; }],
  ['SecurityGroup', 'no spec at all', (o) => { delete o.spec; }],
  ['Port', 'a generated-looking MAC in upper case', (o) => { o.spec.macAddress = '0A:58:0A:00:00:0A'; }],
  ['Port', 'a status', (o) => {
    o.status = { ipAddress: '10.0.0.10', macAddress: '0a:58:0a:00:00:0a', boundNode: 'hv-a-01', owner: { kind: 'VirtualMachine', name: 'db-1' } };
  }],
  ['VirtualMachine', 'direct kernel boot', (o) => {
    o.spec.boot = { kernel: { imageRef: 'vmlinuz', initrdRef: 'initrd', cmdline: 'console=ttyS0' } };
  }],
  ['VirtualMachine', 'an existing port attached by portRef', (o) => { o.spec.networks = [{ name: 'eth0', portRef: 'db-primary' }]; }],
  ['VirtualMachine', 'a disk sized by its image', (o) => { o.spec.disks = [{ name: 'seed', imageRef: 'debian-12' }]; }],
  ['VirtualMachine', 'fractional memory', (o) => { o.spec.memory = '1.5Gi'; }],
  ['VirtualMachine', 'a status', (o) => {
    o.status = {
      observedGeneration: 1,
      printableStatus: 'Running',
      nodeName: 'hv-a-01',
      interfaces: [{ name: 'eth0', ipAddress: '10.0.0.12', macAddress: '0a:58:0a:00:00:0c', portName: 'web-1-eth0' }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'Running', message: '', lastTransitionTime: '2025-01-06T09:00:00Z' }],
    };
  }],
  ['Zone', 'wildcard and apex records', (o) => {
    o.spec.records = [
      { name: '*', type: 'A', values: ['10.0.0.20'] },
      { name: '*.dev', type: 'A', values: ['10.0.0.21'] },
      { name: '@', type: 'MX', values: ['10 mail.acme.internal.'] },
    ];
  }],
  ['Zone', 'a public zone', (o) => { delete o.spec.vpcRef; }],
  ['LoadBalancer', 'port-backed backends and no health check', (o) => {
    o.spec.backends = { portRefs: ['db-primary'] };
    o.spec.healthCheck = { enabled: false };
  }],
  ['Bucket', 'every default', (o) => { o.spec = {}; }],
  ['Image', 'a path source', (o) => { o.spec.source = { path: '/var/lib/photon/images/cirros.qcow2' }; }],
  ['Organization', 'no spec', (o) => { delete o.spec; }],
  ['OrganizationRoleBinding', 'an RBAC role name with colons and a service account', (o) => {
    o.spec.roleRef.name = 'system:aggregate-to-view';
    o.spec.subjects = [{ kind: 'ServiceAccount', name: 'ci', namespace: 'acme-web' }];
  }],
  ['OrganizationRoleBinding', 'no subjects (grants nothing)', (o) => { delete o.spec.subjects; }],
  ['Node', 'a freshly registered node', (o) => { o.spec = {}; delete o.status; }],
  ['User', 'a new password (write-only; the server hashes it)', (o) => { o.spec.password = 'correct horse battery staple'; }],
  ['User', 'a password hash as the server writes it', (o) => { o.spec.passwordHash = 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g='; }],
  ['User', 'no spec', (o) => { delete o.spec; }],
  ['Group', 'no members', (o) => { o.spec = {}; }],
];

describe('valid variants', () => {
  it.each(VALID_VARIANTS)('%s: %s', (kind, _what, mutate) => {
    const object = clone(loadExample(kind));
    mutate(object);
    expect(describeErrors(validate(kind, object))).toBe('');
  });
});

/**
 * Broken objects the schema must reject, each with the JSON pointer the error must be reported at (the
 * parent object for a missing required field, an unknown field or a oneOf/anyOf violation), so that a
 * variant cannot pass by failing for an unrelated reason.
 */
const INVALID_VARIANTS: Array<[kind: string, what: string, at: string, mutate: (o: Obj) => void]> = [
  ['Subnet', 'CIDR prefix above 32', '/spec/cidr', (o) => { o.spec.cidr = '10.0.0.0/33'; }],
  ['Subnet', 'CIDR with three octets', '/spec/cidr', (o) => { o.spec.cidr = '10.0.0/24'; }],
  ['Subnet', 'CIDR without prefix', '/spec/cidr', (o) => { o.spec.cidr = '10.0.0.0'; }],
  ['Subnet', 'IPv6 CIDR (IPv4 only for now)', '/spec/cidr', (o) => { o.spec.cidr = 'fd00::/64'; }],
  ['Subnet', 'no vpcRef', '/spec', (o) => { delete o.spec.vpcRef; }],
  ['Subnet', 'excluded range written with a dash', '/spec/excludeIPs/0', (o) => { o.spec.excludeIPs = ['10.0.0.2-10.0.0.9']; }],
  ['Subnet', 'lease below a minute', '/spec/dhcp/leaseSeconds', (o) => { o.spec.dhcp.leaseSeconds = 10; }],
  ['Subnet', 'a gateway that is not an address', '/spec/gateway', (o) => { o.spec.gateway = '10.0.0.256'; }],
  ['Vpc', 'octet above 255', '/spec/cidrBlocks/0', (o) => { o.spec.cidrBlocks = ['10.0.0.300/16']; }],
  ['Vpc', 'no CIDR blocks', '/spec/cidrBlocks', (o) => { o.spec.cidrBlocks = []; }],
  ['Vpc', 'an unknown field', '/spec', (o) => { o.spec.colour = 'blue'; }],
  ['Port', 'a multicast MAC', '/spec/macAddress', (o) => { o.spec.macAddress = '01:00:5e:00:00:01'; }],
  ['Port', 'a MAC with dashes', '/spec/macAddress', (o) => { o.spec.macAddress = '0a-58-0a-00-00-0a'; }],
  ['Port', 'an upper-case subnetRef', '/spec/subnetRef', (o) => { o.spec.subnetRef = 'Web'; }],
  ['SecurityGroup', 'port above 65535', '/spec/ingress/0/ports', (o) => { o.spec.ingress[0].ports = '70000'; }],
  ['SecurityGroup', 'port 0', '/spec/ingress/0/ports', (o) => { o.spec.ingress[0].ports = '0'; }],
  ['SecurityGroup', 'half-open range', '/spec/ingress/0/ports', (o) => { o.spec.ingress[0].ports = '80-'; }],
  ['SecurityGroup', 'unknown protocol', '/spec/ingress/0/protocol', (o) => { o.spec.ingress[0].protocol = 'SCTP'; }],
  ['SecurityGroup', 'peer with both cidr and group', '/spec/ingress/0/from', (o) => { o.spec.ingress[0].from = { cidr: '10.0.0.0/8', securityGroupRef: 'web' }; }],
  ['SecurityGroup', 'peer with neither', '/spec/ingress/0/from', (o) => { o.spec.ingress[0].from = {}; }],
  ['SecurityGroup', 'rule without peer', '/spec/ingress/0', (o) => { delete o.spec.ingress[0].from; }],
  ['VirtualMachine', 'unknown runStrategy', '/spec/runStrategy', (o) => { o.spec.runStrategy = 'Sometimes'; }],
  ['VirtualMachine', 'memory in MB', '/spec/memory', (o) => { o.spec.memory = '4GB'; }],
  ['VirtualMachine', 'zero cores', '/spec/cpu/cores', (o) => { o.spec.cpu.cores = 0; }],
  ['VirtualMachine', 'boot from image and kernel at once', '/spec/boot', (o) => { o.spec.boot.kernel = { imageRef: 'vmlinuz' }; }],
  ['VirtualMachine', 'nothing to boot', '/spec/boot', (o) => { o.spec.boot = {}; }],
  ['VirtualMachine', 'network with subnetRef and portRef', '/spec/networks/0', (o) => { o.spec.networks[0].portRef = 'db-primary'; }],
  ['VirtualMachine', 'network with portRef and ipAddress', '/spec/networks/0', (o) => {
    o.spec.networks = [{ name: 'eth0', portRef: 'db-primary', ipAddress: '10.0.0.11' }];
  }],
  ['VirtualMachine', 'blank disk without size', '/spec/disks/0', (o) => { o.spec.disks = [{ name: 'data' }]; }],
  ['VirtualMachine', 'unknown disk bus', '/spec/disks/0/bus', (o) => { o.spec.disks[0].bus = 'ide'; }],
  ['VirtualMachine', 'not an SSH key', '/spec/sshAuthorizedKeys/0', (o) => { o.spec.sshAuthorizedKeys = ['hunter2']; }],
  ['VirtualMachine', 'unknown printableStatus', '/status/printableStatus', (o) => { o.status = { printableStatus: 'Sleeping' }; }],
  ['VirtualMachine', 'condition status Yes', '/status/conditions/0/status', (o) => {
    o.status = { conditions: [{ type: 'Ready', status: 'Yes', reason: 'Running', message: '', lastTransitionTime: '2025-01-06T09:00:00Z' }] };
  }],
  ['VirtualMachine', 'condition without reason', '/status/conditions/0', (o) => {
    o.status = { conditions: [{ type: 'Ready', status: 'True', message: '', lastTransitionTime: '2025-01-06T09:00:00Z' }] };
  }],
  ['Node', 'unknown accelerator', '/status/nodeInfo/accelerator', (o) => { o.status.nodeInfo.accelerator = 'hvf'; }],
  ['Node', 'unknown address type', '/status/addresses/0/type', (o) => { o.status.addresses[0].type = 'Public'; }],
  ['Image', 'no source', '/spec/source', (o) => { o.spec.source = {}; }],
  ['Image', 'url and path', '/spec/source', (o) => { o.spec.source.path = '/srv/images/x.qcow2'; }],
  ['Image', 'an ftp url', '/spec/source/url', (o) => { o.spec.source.url = 'ftp://example.com/x.qcow2'; }],
  ['Image', 'unknown format', '/spec/format', (o) => { o.spec.format = 'vmdk'; }],
  ['Image', 'short checksum', '/spec/sha256', (o) => { o.spec.sha256 = 'abc123'; }],
  ['Zone', 'domain without trailing dot', '/spec/domain', (o) => { o.spec.domain = 'acme.internal'; }],
  ['Zone', 'unknown record type', '/spec/records/0/type', (o) => { o.spec.records[0].type = 'SOA'; }],
  ['Zone', 'record without values', '/spec/records/0/values', (o) => { o.spec.records[0].values = []; }],
  ['Zone', 'fully-qualified record name', '/spec/records/0/name', (o) => { o.spec.records[0].name = 'db.acme.internal.'; }],
  ['LoadBalancer', 'listener port 0', '/spec/listeners/0/port', (o) => { o.spec.listeners[0].port = 0; }],
  ['LoadBalancer', 'listener port above 65535', '/spec/listeners/0/targetPort', (o) => { o.spec.listeners[0].targetPort = 70000; }],
  ['LoadBalancer', 'SCTP listener', '/spec/listeners/0/protocol', (o) => { o.spec.listeners[0].protocol = 'SCTP'; }],
  ['LoadBalancer', 'no listeners', '/spec/listeners', (o) => { o.spec.listeners = []; }],
  ['Bucket', 'versioning On', '/spec/versioning', (o) => { o.spec.versioning = 'On'; }],
  ['Bucket', 'write-only access', '/spec/access/0/mode', (o) => { o.spec.access[0].mode = 'WriteOnly'; }],
  ['Bucket', 'quota in GB', '/spec/quota/maxSize', (o) => { o.spec.quota.maxSize = '500GB'; }],
  ['Project', 'upper-case organizationRef', '/spec/organizationRef/name', (o) => { o.spec.organizationRef.name = 'Acme'; }],
  ['Project', 'organizationRef as a bare name', '/spec/organizationRef', (o) => { o.spec.organizationRef = 'acme'; }],
  ['Project', 'no organizationRef', '/spec', (o) => { delete o.spec.organizationRef; }],
  ['OrganizationRoleBinding', 'a Role instead of a ClusterRole', '/spec/roleRef/kind', (o) => { o.spec.roleRef.kind = 'Role'; }],
  ['OrganizationRoleBinding', 'a roleRef in another group', '/spec/roleRef/apiGroup', (o) => { o.spec.roleRef.apiGroup = 'iam.photoncloud.io'; }],
  ['OrganizationRoleBinding', 'a subject of unknown kind', '/spec/subjects/0/kind', (o) => { o.spec.subjects[0].kind = 'Robot'; }],
  ['OrganizationRoleBinding', 'no organizationRef', '/spec', (o) => { delete o.spec.organizationRef; }],
  ['Organization', 'a contact that is not an email address', '/spec/contactEmail', (o) => { o.spec.contactEmail = 'cloud admins'; }],
  ['Organization', 'negative quota', '/spec/quota/virtualMachines', (o) => { o.spec.quota.virtualMachines = -1; }],
  ['User', 'a password shorter than 8 characters', '/spec/password', (o) => { o.spec.password = 'short'; }],
  ['User', 'a password hash in another format', '/spec/passwordHash', (o) => { o.spec.passwordHash = '$2y$10$abcdefghijklmnopqrstuv'; }],
  ['User', 'an email that is not an address', '/spec/email', (o) => { o.spec.email = 'alice'; }],
  ['Group', 'a member name with a colon (system: identities are not users)', '/spec/members/0', (o) => { o.spec.members = ['system:admin']; }],
];

describe('invalid variants', () => {
  it.each(INVALID_VARIANTS)('%s: %s is rejected at %s', (kind, _what, at, mutate) => {
    const object = clone(loadExample(kind));
    mutate(object);
    const errors = validate(kind, object);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.map((e) => e.instancePath)).toContain(at);
  });
});

describe('generated types', () => {
  it('are up to date with the CRDs (generate-types.ts --check)', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'hack/codegen/generate-types.ts', '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  }, 90_000);

  it('export a <Kind>Resource matching each CRD', async () => {
    for (const c of CRDS) {
      const file = path.join(ROOT, 'apis', c.area, 'v1alpha1', 'index.ts');
      expect(existsSync(file)).toBe(true);
      const module = (await import(file)) as Record<string, unknown>;
      const names = c.doc.spec.names;
      expect(module[`${c.kind}Resource`]).toEqual({
        group: c.group,
        version: 'v1alpha1',
        kind: c.kind,
        plural: names.plural,
        singular: names.singular,
        namespaced: c.doc.spec.scope === 'Namespaced',
        apiVersion: `${c.group}/v1alpha1`,
      });
    }
  });
});
