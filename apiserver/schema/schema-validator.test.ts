import { describe, expect, it } from '@jest/globals';
import { jsonEqual } from '../../apis/meta/equality.ts';
import { ObjectSchema, toAjvSchema } from './schema-validator.ts';
import type { JSONSchemaProps } from './structural-schema.ts';

const subnetSchema: JSONSchemaProps = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string' },
    cidr: { type: 'string', format: 'cidr', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'subnet cidr is immutable' }] },
    zone: { type: 'string', default: 'zone-a' },
    tags: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const vpcSchema: JSONSchemaProps = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['cidr'],
      properties: {
        cidr: { type: 'string', format: 'cidr', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'cidr is immutable' }] },
        region: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf' }] },
        gateway: { type: 'string', format: 'ipv4' },
        mac: { type: 'string', format: 'mac' },
        tier: { type: 'string', enum: ['gold', 'silver'], default: 'silver' },
        name: { type: 'string', pattern: '^[a-z]+$', maxLength: 5 },
        replicas: { type: 'integer', minimum: 1, maximum: 10, default: 1 },
        weight: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 1, exclusiveMaximum: true },
        port: { 'x-kubernetes-int-or-string': true },
        maxSurge: { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true, pattern: '^\\d+%$' },
        dns: { type: 'array', maxItems: 2, items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
        subnets: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: subnetSchema },
        options: { type: 'object', nullable: true, properties: { mtu: { type: 'integer', default: 1500 }, jumbo: { type: 'boolean' } } },
        notes: { type: 'string' },
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        partial: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'object', properties: { a: { type: 'string' } } } } },
        settings: { type: 'object', additionalProperties: { type: 'object', properties: { value: { type: 'string' }, mode: { type: 'string', default: 'auto' } } } },
        selector: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, oneOf: [{ required: ['a'] }, { required: ['b'] }] },
        template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object', properties: { x: { type: 'string' } } } } },
      },
    },
    status: { type: 'object', properties: { phase: { type: 'string' } } },
  },
};

const schema = new ObjectSchema(vpcSchema);

function vpc(spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: 'prod' }, spec: { cidr: '10.0.0.0/16', ...spec }, ...extra };
}

const errorsOf = (spec: Record<string, unknown>) => schema.validate(vpc(spec));

describe('ObjectSchema.prune', () => {
  it('removes and reports unknown fields at every level, including list items and metadata', () => {
    const object = vpc({ colour: 'blue', subnets: [{ name: 'a', size: 3 }, { name: 'b' }], options: { mtu: 9000, speed: 'fast' } }, { extraTop: 1 });
    (object.metadata as Record<string, unknown>).x = 'y';
    const { unknownFields } = schema.prune(object);
    expect(unknownFields.sort()).toEqual(['extraTop', 'metadata.x', 'spec.colour', 'spec.options.speed', 'spec.subnets[0].size'].sort());
    expect(object).toEqual(vpc({ subnets: [{ name: 'a' }, { name: 'b' }], options: { mtu: 9000 } }));
  });

  it('keeps every ObjectMeta field and apiVersion/kind', () => {
    const metadata = {
      name: 'a', generateName: 'a-', namespace: 'ns', selfLink: '', uid: 'u', resourceVersion: '1', generation: 1, creationTimestamp: 't',
      deletionTimestamp: 't', deletionGracePeriodSeconds: 0, labels: {}, annotations: {}, ownerReferences: [], finalizers: [], managedFields: [],
    };
    const object = { apiVersion: 'v', kind: 'Vpc', metadata: structuredClone(metadata) };
    expect(schema.prune(object).unknownFields).toEqual([]);
    expect(object.metadata).toEqual(metadata);
  });

  it('keeps x-kubernetes-preserve-unknown-fields subtrees, while still pruning declared children', () => {
    const object = vpc({ extra: { anything: { deep: [1, { x: true }] } }, partial: { free: 1, known: { a: 'x', b: 'pruned' } } });
    expect(schema.prune(object).unknownFields).toEqual(['spec.partial.known.b']);
    expect((object.spec as Record<string, unknown>).extra).toEqual({ anything: { deep: [1, { x: true }] } });
    expect((object.spec as Record<string, unknown>).partial).toEqual({ free: 1, known: { a: 'x' } });
  });

  it('prunes inside map values and keeps the map keys', () => {
    const object = vpc({ settings: { a: { value: 'x', bogus: 1 }, 'example.com/b': { value: 'y', other: 2 } } });
    expect(schema.prune(object).unknownFields).toEqual(['spec.settings.a.bogus', 'spec.settings[example.com/b].other']);
    expect((object.spec as Record<string, unknown>).settings).toEqual({ a: { value: 'x' }, 'example.com/b': { value: 'y' } });
  });

  it('keeps apiVersion, kind and metadata of embedded resources', () => {
    const object = vpc({ template: { apiVersion: 'v1', kind: 'X', metadata: { name: 'a' }, spec: { x: 'y', z: 1 } } });
    expect(schema.prune(object).unknownFields).toEqual(['spec.template.spec.z']);
    expect((object.spec as Record<string, unknown>).template).toEqual({ apiVersion: 'v1', kind: 'X', metadata: { name: 'a' }, spec: { x: 'y' } });
  });

  it('drops nulls where the schema is not nullable, without reporting them as unknown', () => {
    const object = vpc({ notes: null, options: null, subnets: [{ name: 'a', zone: null }] }, { status: null });
    expect(schema.prune(object).unknownFields).toEqual([]);
    expect(object.status).toBeUndefined();
    expect(object.spec).toEqual({ cidr: '10.0.0.0/16', options: null, subnets: [{ name: 'a' }] });
  });

  it('with a root that preserves unknown fields, keeps undeclared top-level fields', () => {
    const open = new ObjectSchema({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    const object = { apiVersion: 'v', kind: 'K', metadata: { name: 'a' }, anything: { goes: true } };
    expect(open.prune(object).unknownFields).toEqual([]);
    expect(object.anything).toEqual({ goes: true });
  });
});

describe('ObjectSchema.applyDefaults', () => {
  it('fills missing fields, also nested and in list items and map values', () => {
    const object = vpc({ options: {}, subnets: [{ name: 'a' }, { name: 'b', zone: 'zone-b' }], settings: { s: { value: 'x' } } });
    schema.applyDefaults(object);
    expect(object.spec).toEqual({
      cidr: '10.0.0.0/16',
      tier: 'silver',
      replicas: 1,
      options: { mtu: 1500 },
      subnets: [{ name: 'a', zone: 'zone-a' }, { name: 'b', zone: 'zone-b' }],
      settings: { s: { value: 'x', mode: 'auto' } },
    });
  });

  it('never overrides existing values, including falsy ones and nulls', () => {
    const object = vpc({ tier: 'gold', replicas: 0, options: null });
    schema.applyDefaults(object);
    expect(object.spec).toEqual({ cidr: '10.0.0.0/16', tier: 'gold', replicas: 0, options: null });
  });

  it('does not create absent parent objects, and does not share default values between objects', () => {
    const schemaWithObjectDefault = new ObjectSchema({ type: 'object', properties: { spec: { type: 'object', properties: { a: { type: 'object', default: { list: [] } } } } } });
    const first = { metadata: {}, spec: {} } as Record<string, unknown>;
    const second = { metadata: {}, spec: {} } as Record<string, unknown>;
    schemaWithObjectDefault.applyDefaults(first);
    schemaWithObjectDefault.applyDefaults(second);
    ((first.spec as { a: { list: number[] } }).a.list).push(1);
    expect(second.spec).toEqual({ a: { list: [] } });
    const noSpec = { metadata: {} } as Record<string, unknown>;
    schema.applyDefaults(noSpec);
    expect(noSpec).toEqual({ metadata: {} });
  });
});

describe('ObjectSchema.validate', () => {
  it('accepts a valid object', () => {
    expect(errorsOf({ gateway: '10.0.0.1', mac: '02:00:00:aa:bb:cc', tier: 'gold', name: 'abc', replicas: 10, weight: 0.5, port: 80, dns: ['a', 'b'], subnets: [{ name: 'a', cidr: '10.0.1.0/24' }] })).toEqual([]);
    expect(errorsOf({ port: 'http', maxSurge: '25%' })).toEqual([]);
    expect(errorsOf({ maxSurge: 3 })).toEqual([]);
  });

  it('required', () => {
    expect(schema.validate({ metadata: {}, spec: {} })).toEqual([{ field: 'spec.cidr', reason: 'FieldValueRequired', message: 'Required value' }]);
    expect(errorsOf({ subnets: [{ cidr: '10.0.0.0/24' }] })).toEqual([{ field: 'spec.subnets[0].name', reason: 'FieldValueRequired', message: 'Required value' }]);
  });

  it('type', () => {
    expect(errorsOf({ replicas: 'three' })).toEqual([
      { field: 'spec.replicas', reason: 'FieldValueInvalid', message: 'Invalid value: "string": spec.replicas in body must be of type integer: "string"' },
    ]);
    expect(errorsOf({ replicas: 1.5 })).toEqual([
      { field: 'spec.replicas', reason: 'FieldValueInvalid', message: 'Invalid value: "number": spec.replicas in body must be of type integer: "number"' },
    ]);
    expect(errorsOf({ dns: 'a' })[0]).toEqual({ field: 'spec.dns', reason: 'FieldValueInvalid', message: 'Invalid value: "string": spec.dns in body must be of type array: "string"' });
    expect(schema.validate({ metadata: {}, spec: [] })[0]).toEqual({ field: 'spec', reason: 'FieldValueInvalid', message: 'Invalid value: "array": spec in body must be of type object: "array"' });
  });

  it('enum → FieldValueNotSupported', () => {
    expect(errorsOf({ tier: 'bronze' })).toEqual([{ field: 'spec.tier', reason: 'FieldValueNotSupported', message: 'Unsupported value: "bronze": supported values: "gold", "silver"' }]);
  });

  it('formats cidr, ipv4 and mac', () => {
    expect(errorsOf({ cidr: '10.0.0.0' })).toEqual([{ field: 'spec.cidr', reason: 'FieldValueInvalid', message: 'Invalid value: "10.0.0.0": spec.cidr in body must be of type cidr: "10.0.0.0"' }]);
    expect(errorsOf({ cidr: '10.0.0.0/33' })[0].field).toBe('spec.cidr');
    expect(errorsOf({ cidr: 'fd00::/8' })).toEqual([]);
    expect(errorsOf({ gateway: '10.0.0.256' })).toEqual([{ field: 'spec.gateway', reason: 'FieldValueInvalid', message: 'Invalid value: "10.0.0.256": spec.gateway in body must be of type ipv4: "10.0.0.256"' }]);
    expect(errorsOf({ mac: '02:00:00:aa:bb' })).toEqual([{ field: 'spec.mac', reason: 'FieldValueInvalid', message: 'Invalid value: "02:00:00:aa:bb": spec.mac in body must be of type mac: "02:00:00:aa:bb"' }]);
    expect(errorsOf({ subnets: [{ name: 'a', cidr: 'nope' }] })[0].field).toBe('spec.subnets[0].cidr');
  });

  it('pattern', () => {
    expect(errorsOf({ name: 'AB' })).toEqual([{ field: 'spec.name', reason: 'FieldValueInvalid', message: `Invalid value: "AB": spec.name in body should match '^[a-z]+$'` }]);
  });

  it('minimum and maximum', () => {
    expect(errorsOf({ replicas: 0 })).toEqual([{ field: 'spec.replicas', reason: 'FieldValueInvalid', message: 'Invalid value: 0: spec.replicas in body should be greater than or equal to 1' }]);
    expect(errorsOf({ replicas: 11 })).toEqual([{ field: 'spec.replicas', reason: 'FieldValueInvalid', message: 'Invalid value: 11: spec.replicas in body should be less than or equal to 10' }]);
  });

  it('boolean exclusiveMinimum/exclusiveMaximum (OpenAPI v3.0) exclude the bound', () => {
    expect(errorsOf({ weight: 0 })).toEqual([{ field: 'spec.weight', reason: 'FieldValueInvalid', message: 'Invalid value: 0: spec.weight in body should be greater than 0' }]);
    expect(errorsOf({ weight: 1 })).toEqual([{ field: 'spec.weight', reason: 'FieldValueInvalid', message: 'Invalid value: 1: spec.weight in body should be less than 1' }]);
    expect(errorsOf({ weight: 0.001 })).toEqual([]);
  });

  it('maxLength → FieldValueTooLong; maxItems → FieldValueTooMany', () => {
    expect(errorsOf({ name: 'abcdef' })).toEqual([{ field: 'spec.name', reason: 'FieldValueTooLong', message: 'Too long: may not be more than 5 bytes' }]);
    expect(errorsOf({ dns: ['a', 'b', 'c'] })).toEqual([{ field: 'spec.dns', reason: 'FieldValueTooMany', message: 'Too many: 3: must have at most 2 items' }]);
  });

  it('reports every error at once', () => {
    const errors = errorsOf({ replicas: 0, tier: 'bronze', name: 'AB' });
    expect(errors.map((error) => error.field).sort()).toEqual(['spec.name', 'spec.replicas', 'spec.tier']);
  });

  it('collapses a failed oneOf/anyOf into a single error on the field', () => {
    const neither = errorsOf({ selector: {} });
    expect(neither).toHaveLength(1);
    expect(neither[0]).toMatchObject({ field: 'spec.selector', reason: 'FieldValueInvalid' });
    expect(neither[0].message).toContain('oneOf');
    expect(errorsOf({ selector: { a: 'x', b: 'y' } })).toHaveLength(1);
    expect(errorsOf({ selector: { a: 'x' } })).toEqual([]);
  });

  it('int-or-string takes integers and strings only, as one error', () => {
    expect(errorsOf({ port: 8080 })).toEqual([]);
    expect(errorsOf({ port: 'http' })).toEqual([]);
    for (const port of [true, 1.5, { a: 1 }]) {
      const errors = errorsOf({ port });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ field: 'spec.port', reason: 'FieldValueInvalid' });
    }
  });

  it('int-or-string with type-specific keywords (as controller-gen writes it) compiles and validates', () => {
    expect(errorsOf({ maxSurge: '25' })).toEqual([{ field: 'spec.maxSurge', reason: 'FieldValueInvalid', message: `Invalid value: "25": spec.maxSurge in body should match '^\\d+%$'` }]);
    expect(errorsOf({ maxSurge: false })).toHaveLength(1);
  });

  it('list-type=set rejects duplicate items', () => {
    expect(errorsOf({ dns: ['a', 'a'] })).toEqual([{ field: 'spec.dns[1]', reason: 'FieldValueDuplicate', message: 'Duplicate value: "a"' }]);
  });

  it('list-type=map rejects duplicate keys', () => {
    expect(errorsOf({ subnets: [{ name: 'a', cidr: '10.0.0.0/24' }, { name: 'b' }, { name: 'a', cidr: '10.0.1.0/24' }] })).toEqual([
      { field: 'spec.subnets[2]', reason: 'FieldValueDuplicate', message: 'Duplicate value: {"name":"a"}' },
    ]);
  });

  it('non-nullable nulls that were not pruned (list items) are type errors; nullable ones are fine', () => {
    expect(errorsOf({ options: null })).toEqual([]);
    expect(errorsOf({ dns: [null] })[0]).toMatchObject({ field: 'spec.dns[0]', reason: 'FieldValueInvalid' });
  });

  it('metadata must be an object', () => {
    expect(schema.validate({ metadata: 'x', spec: { cidr: '10.0.0.0/8' } })[0].field).toBe('metadata');
  });
});

describe('ObjectSchema.checkImmutable', () => {
  const old = vpc({ region: 'eu', subnets: [{ name: 'a', cidr: '10.0.1.0/24' }, { name: 'b', cidr: '10.0.2.0/24' }] });

  it('passes when immutable fields are unchanged (also when list-type=map items are reordered)', () => {
    expect(schema.checkImmutable(structuredClone(old), old)).toEqual([]);
    const reordered = vpc({ region: 'eu', subnets: [{ name: 'b', cidr: '10.0.2.0/24' }, { name: 'a', cidr: '10.0.1.0/24' }], notes: 'changed' });
    expect(schema.checkImmutable(reordered, old)).toEqual([]);
  });

  it('rejects a changed scalar with the rule message, or "Value is immutable" without one', () => {
    expect(schema.checkImmutable(vpc({ cidr: '10.1.0.0/16', region: 'eu', subnets: (old.spec as { subnets: unknown }).subnets }), old)).toEqual([
      { field: 'spec.cidr', reason: 'FieldValueInvalid', message: 'Invalid value: "10.1.0.0/16": cidr is immutable' },
    ]);
    expect(schema.checkImmutable(vpc({ region: 'us', subnets: (old.spec as { subnets: unknown }).subnets }), old)).toEqual([
      { field: 'spec.region', reason: 'FieldValueInvalid', message: 'Invalid value: "us": Value is immutable' },
    ]);
  });

  it('correlates list-type=map items by key and reports the new position', () => {
    const changed = vpc({ region: 'eu', subnets: [{ name: 'c', cidr: '10.0.3.0/24' }, { name: 'b', cidr: '10.0.9.0/24' }, { name: 'a', cidr: '10.0.1.0/24' }] });
    expect(schema.checkImmutable(changed, old)).toEqual([
      { field: 'spec.subnets[1].cidr', reason: 'FieldValueInvalid', message: 'Invalid value: "10.0.9.0/24": subnet cidr is immutable' },
    ]);
  });

  it('items that are new or removed are not compared', () => {
    const changed = vpc({ region: 'eu', subnets: [{ name: 'c', cidr: '10.0.3.0/24' }] });
    expect(schema.checkImmutable(changed, old)).toEqual([]);
  });

  it('removing an immutable field is rejected; setting one that was unset is allowed', () => {
    expect(schema.checkImmutable(vpc({ subnets: (old.spec as { subnets: unknown }).subnets }), old)).toEqual([
      { field: 'spec.region', reason: 'FieldValueInvalid', message: 'Invalid value: null: Value is immutable' },
    ]);
    const withoutSpec = { ...old, spec: undefined };
    expect(schema.checkImmutable(vpc({ region: 'eu', subnets: [{ name: 'b', cidr: '10.0.2.0/24' }, { name: 'a' }] }), old)).toEqual([
      { field: 'spec.subnets[1].cidr', reason: 'FieldValueInvalid', message: 'Invalid value: null: subnet cidr is immutable' },
    ]);
    // Dropping the whole parent removes the immutable scalars under it (list items are no longer paired).
    expect(schema.checkImmutable(withoutSpec, old).map((error) => error.field).sort()).toEqual(['spec.cidr', 'spec.region']);
    expect(schema.checkImmutable(old, vpc({}))).toEqual([]);
  });
});

describe('unsupported validation rules', () => {
  it('warn instead of failing, naming the rule and where it is', () => {
    const withRules = new ObjectSchema({
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          'x-kubernetes-validations': [{ rule: 'self.minReplicas <= self.maxReplicas' }],
          properties: {
            minReplicas: { type: 'integer' },
            maxReplicas: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self == oldSelf' }] },
          },
        },
      },
    });
    expect(withRules.warnings).toEqual(['validation rule "self.minReplicas <= self.maxReplicas" at spec is not supported and is not enforced']);
    expect(withRules.validate({ metadata: {}, spec: { minReplicas: 5, maxReplicas: 1 } })).toEqual([]);
    expect(withRules.checkImmutable({ spec: { maxReplicas: 2 } }, { spec: { maxReplicas: 1 } })).toHaveLength(1);
  });

  it('warn for rules inside list items that cannot be enforced', () => {
    const withRules = new ObjectSchema({
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          properties: {
            hosts: { type: 'array', items: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self.size() > 0' }] } },
            zones: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf' }] } },
            ports: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['port'], items: { type: 'object', properties: { port: { type: 'integer' } }, 'x-kubernetes-validations': [{ rule: 'self.port > 0' }] } },
          },
        },
      },
    });
    expect(withRules.warnings).toHaveLength(3);
    expect(withRules.warnings[0]).toContain('"self.size() > 0"');
    // An immutability rule on items that cannot be paired with old items is not enforced: say so.
    expect(withRules.warnings[1]).toContain('"self == oldSelf"');
    expect(withRules.warnings[2]).toContain('"self.port > 0"');
    expect(withRules.checkImmutable({ spec: { zones: ['b'] } }, { spec: { zones: ['a'] } })).toEqual([]);
  });

  it('warn about unknown formats, which are ignored', () => {
    const withFormat = new ObjectSchema({ type: 'object', properties: { spec: { type: 'object', properties: { a: { type: 'string', format: 'colour' } } } } });
    expect(withFormat.warnings).toEqual(['format "colour" is not known and is ignored']);
    expect(withFormat.validate({ metadata: {}, spec: { a: 'anything' } })).toEqual([]);
  });
});

describe('toAjvSchema', () => {
  it('turns boolean exclusive bounds into numeric ones and drops defaults', () => {
    expect(toAjvSchema({ type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 5, exclusiveMaximum: false, default: 1 })).toEqual({ type: 'number', exclusiveMinimum: 0, maximum: 5 });
  });
});

describe('deepEqual', () => {
  it('compares JSON values structurally, ignoring key order and undefined members', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, u: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { b: 1 })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual('1', 1)).toBe(false);
  });
});
