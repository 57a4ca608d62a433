import { describe, expect, it } from '@jest/globals';
import type { JSONSchemaProps } from '../admission/structural-schema.ts';
import { mergeApplied } from './apply.ts';

const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['port', 'protocol'],
          items: { type: 'object', properties: { port: { type: 'integer' }, protocol: { type: 'string' }, name: { type: 'string' }, options: { type: 'object', additionalProperties: { type: 'string' } } } },
        },
        tags: { type: 'array', 'x-kubernetes-list-type': 'atomic', items: { type: 'string' } },
        dns: { type: 'array', items: { type: 'string' } },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        selector: { type: 'object', 'x-kubernetes-map-type': 'atomic', additionalProperties: { type: 'string' } },
        size: { type: 'integer' },
      },
    },
  },
};

describe('mergeApplied', () => {
  it('merges list-type=map items on their keys, keeping live-only items and appending new ones', () => {
    const live = { spec: { ports: [
      { port: 80, protocol: 'TCP', name: 'http', options: { a: '1' } },
      { port: 53, protocol: 'UDP', name: 'dns' },
    ] } };
    const applied = { spec: { ports: [
      { port: 80, protocol: 'TCP', name: 'web', options: { b: '2' } },
      { port: 53, protocol: 'TCP', name: 'dns-tcp' },
    ] } };
    expect(mergeApplied(live, applied, schema)).toEqual({ spec: { ports: [
      { port: 80, protocol: 'TCP', name: 'web', options: { a: '1', b: '2' } },
      { port: 53, protocol: 'UDP', name: 'dns' },
      { port: 53, protocol: 'TCP', name: 'dns-tcp' },
    ] } });
  });

  it('replaces atomic lists and lists without a list type', () => {
    const live = { spec: { tags: ['a', 'b'], dns: ['1.1.1.1', '8.8.8.8'] } };
    expect(mergeApplied(live, { spec: { tags: ['c'], dns: ['9.9.9.9'] } }, schema)).toEqual({ spec: { tags: ['c'], dns: ['9.9.9.9'] } });
  });

  it('merges granular maps field by field and replaces atomic maps', () => {
    const live = { spec: { size: 1, labels: { a: '1', b: '2' }, selector: { a: '1', b: '2' } } };
    const applied = { spec: { labels: { b: '3', c: '4' }, selector: { c: '4' } } };
    expect(mergeApplied(live, applied, schema)).toEqual({ spec: { size: 1, labels: { a: '1', b: '3', c: '4' }, selector: { c: '4' } } });
  });

  it('applied scalars replace live values, including a change of type', () => {
    expect(mergeApplied({ spec: { size: 1 } }, { spec: { size: 2 } }, schema)).toEqual({ spec: { size: 2 } });
    expect(mergeApplied({ spec: { labels: { a: '1' } } }, { spec: { labels: null } }, schema)).toEqual({ spec: { labels: null } });
    expect(mergeApplied({ spec: 'x' }, { spec: { size: 2 } }, schema)).toEqual({ spec: { size: 2 } });
  });

  it('without a schema, objects merge and lists replace', () => {
    expect(mergeApplied({ a: { b: 1, l: [1, 2] } }, { a: { c: 2, l: [3] } }, undefined)).toEqual({ a: { b: 1, c: 2, l: [3] } });
  });

  it('does not mutate the live or the applied object, and does not alias them into the result', () => {
    const live = { spec: { ports: [{ port: 80, protocol: 'TCP', name: 'http' }], labels: { a: '1' } } };
    const applied = { spec: { ports: [{ port: 443, protocol: 'TCP', name: 'https' }], labels: { b: '2' } } };
    const liveBefore = structuredClone(live);
    const appliedBefore = structuredClone(applied);
    const result = mergeApplied(live, applied, schema) as typeof live;
    expect(live).toEqual(liveBefore);
    expect(applied).toEqual(appliedBefore);
    result.spec.ports[0].name = 'changed';
    result.spec.ports[1].name = 'changed';
    expect(live.spec.ports[0].name).toBe('http');
    expect(applied.spec.ports[0].name).toBe('https');
  });

  it('a "__proto__" field in the applied configuration stays an own field', () => {
    const applied = JSON.parse('{"spec":{"labels":{"__proto__":{"polluted":"yes"}}}}');
    const result = mergeApplied({ spec: { labels: { a: '1' } } }, applied, schema) as { spec: { labels: Record<string, unknown> } };
    expect(Object.prototype.hasOwnProperty.call(result.spec.labels, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
