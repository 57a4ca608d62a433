import { describe, expect, it } from '@jest/globals';
import { applyMergePatch, setOwn } from './merge-patch.ts';

describe('applyMergePatch (RFC 7386)', () => {
  // RFC 7386, Appendix A: Example Test Cases.
  const cases: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  it.each(cases)('%j patched with %j gives %j', (original, patch, expected) => {
    const before = structuredClone(original);
    expect(applyMergePatch(original, patch)).toEqual(expected);
    expect(original).toEqual(before); // the target is never mutated
  });

  it('handles the example of RFC 7386 section 3', () => {
    const target = { title: 'Goodbye!', author: { givenName: 'John', familyName: 'Doe' }, tags: ['example', 'sample'], content: 'This will be unchanged' };
    const patch = { title: 'Hello!', phoneNumber: '+01-123-456-7890', author: { familyName: null }, tags: ['example'] };
    expect(applyMergePatch(target, patch)).toEqual({
      title: 'Hello!',
      author: { givenName: 'John' },
      tags: ['example'],
      content: 'This will be unchanged',
      phoneNumber: '+01-123-456-7890',
    });
  });

  it('does not share patch values with the result', () => {
    const patch = { spec: { list: [{ a: 1 }] } };
    const result = applyMergePatch({}, patch) as { spec: { list: Array<{ a: number }> } };
    result.spec.list[0].a = 2;
    expect(patch.spec.list[0].a).toBe(1);
  });

  it('a "__proto__" key in the patch becomes an own field and never touches a prototype', () => {
    const patch = JSON.parse('{"metadata":{"__proto__":{"polluted":true}}}');
    const result = applyMergePatch({ metadata: { name: 'a' } }, patch) as { metadata: Record<string, unknown> };
    expect(Object.prototype.hasOwnProperty.call(result.metadata, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(result.metadata)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(result.metadata.name).toBe('a');
  });
});

describe('setOwn', () => {
  it('defines an enumerable own property even for "__proto__"', () => {
    const target: Record<string, unknown> = {};
    setOwn(target, '__proto__', { x: 1 });
    expect(Object.keys(target)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(target)).toBe(Object.prototype);
  });
});
