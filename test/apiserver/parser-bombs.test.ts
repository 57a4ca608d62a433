// Issue 7, class 5: request bodies that are cheap to send and expensive to parse. The landed server stalled
// 16–30 s on a 3 MB deeply nested YAML body (depth was checked after parsing), and the YAML parser itself
// crashes the whole process with a few thousand nesting levels. Here every shape of bomb — deep flow and
// block YAML, long dash chains, quadratic duplicate-key checks, alias expansion, deep JSON, huge key counts
// — in create, update, merge and apply bodies, is answered with a 4xx while /readyz keeps answering fast;
// a large but ordinary YAML document is still accepted.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { duringAttack, mapConcurrently, startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';

let server: ApiServerProcess;
const CM = '/api/v1/namespaces/p/configmaps';
const MB3 = 3 * 1024 * 1024 - 64;

/** Bodies of at most ~3 MB, each a different way to make a parser work hard. */
function bombs(): Array<{ name: string; type: string; body: string }> {
  const yaml = 'application/yaml';
  const json = 'application/json';
  const fill = (unit: string, limit = MB3) => unit.repeat(Math.floor(limit / unit.length));
  const deepBlock = (levels: number) => Array.from({ length: levels }, (_, depth) => `${' '.repeat(depth)}a:`).join('\n');
  const keys = (count: number) => Array.from({ length: count }, (_, index) => `k${index}: v`).join('\n');
  const aliasBomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...Array.from({ length: 8 }, (_, index) => {
    const name = String.fromCharCode(98 + index);
    const previous = String.fromCharCode(97 + index);
    return `${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`;
  })].join('\n');
  return [
    { name: 'YAML flow [ 1.5M deep', type: yaml, body: fill('[', MB3 / 2) + fill(']', MB3 / 2) },
    { name: 'YAML flow [ 5000 deep', type: yaml, body: '['.repeat(5000) + ']'.repeat(5000) },
    { name: 'YAML flow [ 1500 deep (inline size)', type: yaml, body: '['.repeat(1500) + ']'.repeat(1500) },
    { name: 'YAML flow {a: deep', type: yaml, body: fill('{a: ', MB3 / 2) },
    { name: 'YAML dash chain', type: yaml, body: fill('- ') + 'x' },
    { name: 'YAML block nesting', type: yaml, body: deepBlock(2400) },
    { name: 'YAML 150k keys', type: yaml, body: `kind: ConfigMap\n${keys(150_000)}` },
    { name: 'YAML 60k list items', type: yaml, body: `kind: ConfigMap\nitems:\n${'- x\n'.repeat(60_000)}` },
    { name: 'YAML duplicate key at the end of 100k', type: yaml, body: `${keys(100_000)}\nk1: again` },
    { name: 'YAML alias bomb (billion laughs)', type: yaml, body: aliasBomb },
    { name: 'YAML unclosed flow', type: yaml, body: fill('[a, ') },
    { name: 'YAML many documents', type: yaml, body: fill('---\na: 1\n') },
    { name: 'YAML long plain scalar line', type: yaml, body: `a: ${'x'.repeat(MB3 - 10)}` },
    { name: 'YAML quoted scalars with escapes', type: yaml, body: `a: "${fill('\\u0041', MB3 - 10)}"` },
    { name: 'JSON [ 1.5M deep', type: json, body: fill('[', MB3 / 2) + fill(']', MB3 / 2) },
    { name: 'JSON {"a": deep', type: json, body: fill('{"a":', MB3) },
    { name: 'JSON 100k keys of an object that would pass', type: json, body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'target' }, data: Object.fromEntries(Array.from({ length: 100_000 }, (_, index) => [`k${index}`, 'v'])) }) },
    { name: 'JSON 200k keys', type: json, body: `{${Array.from({ length: 200_000 }, (_, index) => `"k${index}":1`).join(',')}}` },
    { name: 'JSON deep inside strings is fine but deep arrays are not', type: json, body: `{"kind":"ConfigMap","x":"${'['.repeat(1000)}","y":${'['.repeat(200)}${']'.repeat(200)}}` },
  ];
}

beforeAll(async () => {
  server = await startApiServerProcess({ maxOldSpaceMb: 1024 });
  expect((await server.client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'p' } }) })).status).toBe(201);
  expect((await server.client.request(CM, { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'target' }, data: { a: 'b' } }) })).status).toBe(201);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('parser bombs', () => {
  it('answers every bomb, as create, update, merge and apply bodies, with a 4xx while /readyz stays fast', async () => {
    const requests = bombs().flatMap((bomb) => {
      const patchType = bomb.type === 'application/yaml' ? 'application/apply-patch+yaml' : 'application/merge-patch+json';
      return [
        { ...bomb, method: 'POST', path: CM, contentType: bomb.type },
        { ...bomb, method: 'PUT', path: `${CM}/target`, contentType: bomb.type },
        { ...bomb, method: 'PATCH', path: `${CM}/target?fieldManager=bomb`, contentType: patchType },
      ];
    });
    const { result, readyz } = await duringAttack(server, () =>
      mapConcurrently(requests, 2, async (request) => {
        const started = performance.now();
        const response = await server.client.request(request.path, { method: request.method, body: request.body, headers: { 'Content-Type': request.contentType } });
        return { name: `${request.method} ${request.name}`, status: response.status, ms: performance.now() - started };
      }),
    );
    const wrong = result.filter(({ status }) => status < 400 || status >= 500);
    expect(wrong).toEqual([]);
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
    expect(server.alive()).toBe(true);
    expect((await server.client.request(`${CM}/target`)).status).toBe(200);
  }, 240_000);

  it('still accepts a large ordinary YAML document, decoded off the event loop', async () => {
    const data = Array.from({ length: 20_000 }, (_, index) => `  key-${index}: "value number ${index}"`).join('\n');
    const body = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: large-yaml\ndata:\n${data}\n`;
    expect(body.length).toBeGreaterThan(500_000);
    const { result, readyz } = await duringAttack(server, () => server.client.request(CM, { method: 'POST', body, headers: { 'Content-Type': 'application/yaml' } }));
    expect(result.status).toBe(201);
    expect(Object.keys(result.json().data)).toHaveLength(20_000);
    expect(readyz.maxMs).toBeLessThan(1000);
  });

  it('replaces and applies a large ordinary YAML document while /readyz stays fast', async () => {
    const document = (value: string) => {
      const data = Array.from({ length: 20_000 }, (_, index) => `  key-${index}: "${value} ${index}"`).join('\n');
      return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: large-update\ndata:\n${data}\n`;
    };
    const yaml = { 'Content-Type': 'application/yaml' };
    expect((await server.client.request(CM, { method: 'POST', body: document('created'), headers: yaml })).status).toBe(201);
    const put = await duringAttack(server, () => server.client.request(`${CM}/large-update`, { method: 'PUT', body: document('replaced'), headers: yaml }));
    expect(put.result.status).toBe(200);
    expect(put.result.json().data['key-19999']).toBe('replaced 19999');
    expect(put.readyz.maxMs).toBeLessThan(1000);
    const applied = await duringAttack(server, () =>
      server.client.request(`${CM}/large-update?fieldManager=large-applier&force=true`, { method: 'PATCH', body: document('applied'), headers: { 'Content-Type': 'application/apply-patch+yaml' } }),
    );
    expect(applied.result.status).toBe(200);
    expect(applied.result.json().data['key-0']).toBe('applied 0');
    expect(applied.result.json().metadata.managedFields.map((entry: { manager: string }) => entry.manager)).toContain('large-applier');
    expect(applied.readyz.maxMs).toBeLessThan(1000);
  });
});
