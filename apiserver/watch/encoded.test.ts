import { describe, expect, it } from '@jest/globals';
import { encodeJson, jsonOf, markShared } from './encoded.ts';

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
    for (let i = 0; i < 3; i++) expect(jsonOf(shared)).toBe('{"metadata":{"name":"a"}}');
    for (let i = 0; i < 3; i++) expect(jsonOf(fresh)).toBe('{"metadata":{"name":"b"}}');
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
    for (const body of bodies) expect(encodeJson(body)).toBe(JSON.stringify(body));
  });
});
