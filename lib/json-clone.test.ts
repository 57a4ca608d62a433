import { describe, expect, it } from '@jest/globals';
import { cloneJson } from './json-clone.ts';

describe('cloneJson', () => {
  it('copies JSON data deeply: the copy is equal, and changing it leaves the original alone', () => {
    const original = { metadata: { name: 'a', labels: { x: '1' }, finalizers: ['f'] }, spec: { n: 1, ok: true, none: null, list: [{ a: [1, 2] }] } };
    const copy = cloneJson(original);
    expect(copy).toEqual(original);
    copy.metadata.labels.x = '2';
    copy.metadata.finalizers.push('g');
    copy.spec.list[0]!.a.push(3);
    expect(original).toEqual({ metadata: { name: 'a', labels: { x: '1' }, finalizers: ['f'] }, spec: { n: 1, ok: true, none: null, list: [{ a: [1, 2] }] } });
  });

  it('keeps properties whose value is undefined and passes primitives through', () => {
    const copy = cloneJson({ resourceVersion: undefined, name: 'a' });
    expect(Object.keys(copy)).toEqual(['resourceVersion', 'name']);
    expect(cloneJson('text')).toBe('text');
    expect(cloneJson(null)).toBeNull();
    expect(cloneJson(3)).toBe(3);
  });

  it('copies a "__proto__" key from JSON as a property, never as the prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const copy = cloneJson(parsed);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
    expect(JSON.stringify(copy)).toBe('{"__proto__":{"polluted":true},"a":1}');
  });
});
