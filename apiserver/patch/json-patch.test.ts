import { describe, expect, it } from '@jest/globals';
import { applyJsonPatch, JsonPatchError, parseJsonPatch } from './json-patch.ts';
import { MAX_JSON_PATCH_OPERATIONS } from '../limits.ts';

function failure(document: unknown, patch: unknown): JsonPatchError {
  const before = structuredClone(document);
  try {
    applyJsonPatch(document, patch);
  } catch (error) {
    expect(error).toBeInstanceOf(JsonPatchError);
    expect(document).toEqual(before); // a failed patch leaves the input untouched
    return error as JsonPatchError;
  }
  throw new Error(`patch ${JSON.stringify(patch)} applied`);
}

function patched(document: unknown, patch: unknown): unknown {
  const before = structuredClone(document);
  const result = applyJsonPatch(document, patch);
  expect(document).toEqual(before); // the input document is never mutated
  return result;
}

describe('applyJsonPatch: RFC 6902 Appendix A', () => {
  it('A.1 adding an object member', () => {
    expect(patched({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }])).toEqual({ baz: 'qux', foo: 'bar' });
  });

  it('A.2 adding an array element', () => {
    expect(patched({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({ foo: ['bar', 'qux', 'baz'] });
  });

  it('A.3 removing an object member', () => {
    expect(patched({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }])).toEqual({ foo: 'bar' });
  });

  it('A.4 removing an array element', () => {
    expect(patched({ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }])).toEqual({ foo: ['bar', 'baz'] });
  });

  it('A.5 replacing a value', () => {
    expect(patched({ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }])).toEqual({ baz: 'boo', foo: 'bar' });
  });

  it('A.6 moving a value', () => {
    const document = { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } };
    expect(patched(document, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }])).toEqual({ foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } });
  });

  it('A.7 moving an array element', () => {
    expect(patched({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }])).toEqual({ foo: ['all', 'cows', 'eat', 'grass'] });
  });

  it('A.8 testing a value: success', () => {
    const document = { baz: 'qux', foo: ['a', 2, 'c'] };
    expect(patched(document, [{ op: 'test', path: '/baz', value: 'qux' }, { op: 'test', path: '/foo/1', value: 2 }])).toEqual(document);
  });

  it('A.9 testing a value: error', () => {
    const error = failure({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }]);
    expect(error.kind).toBe('failed');
    expect(error.message).toBe('test operation failed: /baz is not "bar"');
  });

  it('A.10 adding a nested member object', () => {
    expect(patched({ foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }])).toEqual({ foo: 'bar', child: { grandchild: {} } });
  });

  it('A.11 ignoring unrecognized elements', () => {
    expect(patched({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }])).toEqual({ foo: 'bar', baz: 'qux' });
  });

  it('A.12 adding to a nonexistent target', () => {
    const error = failure({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }]);
    expect(error.kind).toBe('failed');
    expect(error.message).toBe('path /baz/bat does not exist');
  });

  it('A.14 ~ escape ordering', () => {
    const document = { '/': 9, '~1': 10 };
    expect(patched(document, [{ op: 'test', path: '/~01', value: 10 }])).toEqual(document);
  });

  it('A.15 comparing strings and numbers', () => {
    expect(failure({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: '10' }]).kind).toBe('failed');
  });

  it('A.16 adding an array value', () => {
    expect(patched({ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }])).toEqual({ foo: ['bar', ['abc', 'def']] });
  });
});

describe('applyJsonPatch: more semantics', () => {
  it('unescapes ~1 as "/" and ~0 as "~" in paths', () => {
    const document = { metadata: { annotations: { 'example.com/a~b': 'x' } } };
    expect(patched(document, [{ op: 'replace', path: '/metadata/annotations/example.com~1a~0b', value: 'y' }])).toEqual({ metadata: { annotations: { 'example.com/a~b': 'y' } } });
    expect(patched({ labels: {} }, [{ op: 'add', path: '/labels/app.kubernetes.io~1name', value: 'web' }])).toEqual({ labels: { 'app.kubernetes.io/name': 'web' } });
  });

  it('"-" appends; an index equal to the length appends; beyond it fails', () => {
    expect(patched({ a: [1] }, [{ op: 'add', path: '/a/-', value: 2 }])).toEqual({ a: [1, 2] });
    expect(patched({ a: [1] }, [{ op: 'add', path: '/a/1', value: 2 }])).toEqual({ a: [1, 2] });
    expect(failure({ a: [1] }, [{ op: 'add', path: '/a/2', value: 2 }]).message).toBe('path /a/2: index 2 is out of range');
  });

  it('array indices must be canonical numbers', () => {
    expect(failure({ a: [1, 2] }, [{ op: 'replace', path: '/a/01', value: 3 }]).kind).toBe('failed');
    expect(failure({ a: [1, 2] }, [{ op: 'remove', path: '/a/-' }]).kind).toBe('failed');
    expect(failure({ a: [1, 2] }, [{ op: 'replace', path: '/a/2', value: 3 }]).kind).toBe('failed');
  });

  it('replace and remove need an existing member', () => {
    expect(failure({ a: 1 }, [{ op: 'replace', path: '/b', value: 2 }]).message).toBe('path /b does not exist');
    expect(failure({ a: 1 }, [{ op: 'remove', path: '/b' }]).message).toBe('path /b does not exist');
    expect(failure({}, [{ op: 'remove', path: '/constructor' }]).kind).toBe('failed');
  });

  it('an empty path addresses the whole document', () => {
    expect(patched({ a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }])).toEqual({ b: 2 });
    expect(patched({ a: 1 }, [{ op: 'test', path: '', value: { a: 1 } }])).toEqual({ a: 1 });
    expect(failure({ a: 1 }, [{ op: 'remove', path: '' }]).kind).toBe('failed');
  });

  it('copy duplicates a value without aliasing it', () => {
    const result = patched({ a: { b: [1] } }, [
      { op: 'copy', from: '/a', path: '/c' },
      { op: 'add', path: '/c/b/-', value: 2 },
    ]);
    expect(result).toEqual({ a: { b: [1] }, c: { b: [1, 2] } });
  });

  it('copy from a missing location fails', () => {
    expect(failure({ a: 1 }, [{ op: 'copy', from: '/missing', path: '/b' }]).message).toBe('path /missing does not exist');
  });

  it('move into its own child fails; move to the same place is a no-op', () => {
    expect(failure({ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b/c' }]).kind).toBe('failed');
    expect(patched({ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a' }])).toEqual({ a: { b: 1 } });
  });

  it('test compares deeply, ignoring key order', () => {
    expect(patched({ a: { x: 1, y: [1, { z: true }] } }, [{ op: 'test', path: '/a', value: { y: [1, { z: true }], x: 1 } }])).toEqual({ a: { x: 1, y: [1, { z: true }] } });
    expect(failure({ a: [1, 2] }, [{ op: 'test', path: '/a', value: [2, 1] }]).kind).toBe('failed');
    expect(failure({ a: null }, [{ op: 'test', path: '/a', value: {} }]).kind).toBe('failed');
  });

  it('operations apply in order and a later failure discards the earlier ones', () => {
    const document = { a: 1 };
    failure(document, [
      { op: 'add', path: '/b', value: 2 },
      { op: 'test', path: '/a', value: 2 },
    ]);
    expect(document).toEqual({ a: 1 });
  });

  it('does not alias operation values into the result', () => {
    const value = { list: [1] };
    const result = patched({}, [{ op: 'add', path: '/v', value }]) as { v: { list: number[] } };
    result.v.list.push(2);
    expect(value.list).toEqual([1]);
  });

  it('a "__proto__" member is an own field and pollutes nothing', () => {
    const result = patched({ metadata: {} }, [{ op: 'add', path: '/metadata/__proto__', value: { polluted: true } }]) as { metadata: Record<string, unknown> };
    expect(Object.prototype.hasOwnProperty.call(result.metadata, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('malformed patches', () => {
  const malformed = (patch: unknown) => {
    try {
      parseJsonPatch(patch);
    } catch (error) {
      expect(error).toBeInstanceOf(JsonPatchError);
      expect((error as JsonPatchError).kind).toBe('malformed');
      return (error as JsonPatchError).message;
    }
    throw new Error('accepted');
  };

  it('must be a list of operation objects', () => {
    expect(malformed({ op: 'add', path: '/a', value: 1 })).toBe('a JSON patch must be a list of operations');
    expect(malformed(['add'])).toBe('operation 0 must be an object');
  });

  it('needs a known op, a path, and value/from where the op needs them', () => {
    expect(malformed([{ op: 'merge', path: '/a' }])).toBe('operation 0: unsupported op "merge"');
    expect(malformed([{ path: '/a', value: 1 }])).toBe('operation 0: unsupported op undefined');
    expect(malformed([{ op: 'remove' }])).toBe('operation 0 (remove): "path" is required');
    expect(malformed([{ op: 'add', path: '/a' }])).toBe('operation 0 (add /a): "value" is required');
    expect(malformed([{ op: 'replace', path: '/a' }])).toBe('operation 0 (replace /a): "value" is required');
    expect(malformed([{ op: 'test', path: '/a' }])).toBe('operation 0 (test /a): "value" is required');
    expect(malformed([{ op: 'move', path: '/a' }])).toBe('operation 0 (move /a): "from" is required');
    expect(malformed([{ op: 'copy', path: '/a', from: 1 }])).toBe('operation 0 (copy /a): "from" is required');
  });

  it('paths must be JSON pointers', () => {
    expect(malformed([{ op: 'remove', path: 'a/b' }])).toBe('path "a/b" is not a JSON pointer (must start with "/")');
  });

  it('applyJsonPatch reports malformed documents before touching anything', () => {
    const error = failure({ a: 1 }, [{ op: 'add', path: '/b', value: 1 }, { op: 'add', path: 'c', value: 1 }]);
    expect(error.kind).toBe('malformed');
  });

  it('a value of null is a value', () => {
    expect(patched({ a: 1 }, [{ op: 'add', path: '/a', value: null }])).toEqual({ a: null });
  });

  it('test against null succeeds on a missing path (absent == null, as Kubernetes json-patch treats it)', () => {
    expect(applyJsonPatch({ metadata: {} }, [{ op: 'test', path: '/metadata/finalizers', value: null }, { op: 'add', path: '/metadata/finalizers', value: ['a'] }])).toEqual({ metadata: { finalizers: ['a'] } });
    expect(() => applyJsonPatch({ metadata: { finalizers: ['x'] } }, [{ op: 'test', path: '/metadata/finalizers', value: null }])).toThrow(/test operation failed/);
  });
});

describe('bounds', () => {
  it(`refuses more than ${MAX_JSON_PATCH_OPERATIONS} operations as too large`, () => {
    const ops = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: 'test', path: '/a', value: 1 }));
    expect(() => applyJsonPatch({ a: 1 }, ops)).toThrow(expect.objectContaining({ kind: 'too-large' }));
    expect(applyJsonPatch({ a: 1 }, ops.slice(1))).toEqual({ a: 1 });
  });

  it('stops copy operations that double a field before they exhaust memory', () => {
    const doubling = Array.from({ length: 30 }, (_, index) => ({ op: 'copy', from: '/spec', path: `/spec/c${index}` }));
    const started = performance.now();
    expect(() => applyJsonPatch({ spec: { seed: 'x'.repeat(1000) } }, doubling)).toThrow(expect.objectContaining({ kind: 'too-large' }));
    expect(performance.now() - started).toBeLessThan(2000);
    // Copies that stay small are fine.
    expect(applyJsonPatch({ spec: { seed: 'x' } }, doubling.slice(0, 3))).toMatchObject({ spec: { c0: { seed: 'x' } } });
  });
});
