import { describe, expect, it } from '@jest/globals';
import { bytesOf, encodeJson, markShared, watchLine } from './encoded.ts';

/** An object that counts how often it is serialised. */
function counted(name: string) {
  const object = { metadata: { name }, serialised: 0, toJSON() { object.serialised++; return { metadata: object.metadata }; } };
  return object;
}

describe('encoded JSON of the watch cache objects', () => {
  it('serialises a shared object once, however often it is listed; other objects every time', () => {
    const shared = counted('a');
    const fresh = counted('b');
    markShared(shared);
    for (let i = 0; i < 3; i++) expect(bytesOf(shared).toString()).toBe('{"metadata":{"name":"a"}}');
    for (let i = 0; i < 3; i++) expect(bytesOf(fresh).toString()).toBe('{"metadata":{"name":"b"}}');
    expect(shared.serialised).toBe(1);
    expect(fresh.serialised).toBe(3);
  });

  it('writes a list exactly as JSON.stringify does', () => {
    const item = { metadata: { name: 'x', labels: { a: 'é"\n' } }, spec: { n: 1, nothing: undefined, list: [1, null] } };
    markShared(item);
    const bodies: unknown[] = [
      { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '7', continue: 'abc' }, items: [item, { other: true }, item] },
      { items: [] },
      { items: [item] },
      { kind: 'List', items: [item, null, 3, 'text'] },
      { items: [item], after: 1 }, // items not last: the plain path
      { items: [undefined, () => 1] },
      { notAList: true },
      [1, 2],
      'text',
      null,
    ];
    for (const body of bodies) expect(String(encodeJson(body))).toBe(JSON.stringify(body));
  });

  it("writes a list as one Buffer of its items' remembered bytes, serialising each shared item once", () => {
    const shared = counted('a');
    markShared(shared);
    const list = { kind: 'List', items: [shared, shared, counted('b')] };
    for (let i = 0; i < 3; i++) {
      const body = encodeJson(list);
      expect(Buffer.isBuffer(body)).toBe(true);
      expect(body.toString()).toBe('{"kind":"List","items":[{"metadata":{"name":"a"}},{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}');
    }
    expect(shared.serialised).toBe(1);
    // The same bytes every time, and not a slice of Node's shared pool (they live as long as the cached object).
    expect(bytesOf(shared)).toBe(bytesOf(shared));
    expect(bytesOf(shared).byteOffset).toBe(0);
    expect(bytesOf(shared).buffer.byteLength).toBe(bytesOf(shared).length);
    expect(bytesOf({ not: 'shared' }).toString()).toBe('{"not":"shared"}');
  });

  it('writes a watch line around an object\'s bytes, in memory of its own when asked', () => {
    const object = { metadata: { name: 'é' } };
    markShared(object);
    const live = watchLine('ADDED', bytesOf(object), true);
    expect(live.toString()).toBe(`${JSON.stringify({ type: 'ADDED', object })}\n`);
    expect(live.buffer.byteLength).toBe(live.length);
    expect(watchLine('DELETED', bytesOf(object), false).toString()).toBe(`${JSON.stringify({ type: 'DELETED', object })}\n`);
  });

  it('writes a Table exactly as JSON.stringify does, and serialises each shared row object or metadata once', () => {
    const shared = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', labels: { 'x"y': 'é\n' } }, data: { k: 'v' } };
    markShared(shared);
    const other = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' } };
    const partial = (metadata: object) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata });
    const table = (rows: unknown[]) => ({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '9' }, columnDefinitions: [{ name: 'Name', type: 'string' }], rows });
    const bodies: unknown[] = [
      table([{ cells: ['a', 1, null, undefined] , object: partial(shared.metadata) }, { cells: ['b'], object: partial(other.metadata) }]),
      table([{ cells: ['a'], object: shared }, { cells: ['b'], object: other }]), // includeObject=Object
      table([{ cells: ['a'] }, { cells: ['b'] }]), // includeObject=None
      table([]),
      table([{ cells: ['a'], object: { kind: undefined, apiVersion: undefined, metadata: shared.metadata } }]),
      table([{ cells: undefined, object: partial(shared.metadata) }]),
      table([{ object: partial(shared.metadata), cells: ['a'] }]),
      table([{ cells: ['a'], object: { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: shared.metadata } }]),
      table([null, 3, 'row', Symbol('s')]),
      { rows: [{ cells: [], object: partial(shared.metadata) }], after: 1 }, // rows not last: the plain path
    ];
    for (const body of bodies) expect(String(encodeJson(body))).toBe(JSON.stringify(body));

    const counted = { name: 'c', serialised: 0, toJSON() { counted.serialised++; return { name: 'c' }; } };
    const object = { metadata: counted };
    markShared(object);
    for (let i = 0; i < 3; i++) expect(String(encodeJson(table([{ cells: ['c'], object: partial(counted) }])))).toContain('"metadata":{"name":"c"}');
    expect(counted.serialised).toBe(1);
  });
});
