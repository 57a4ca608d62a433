// Issue 7, class 6: regular-expression denial of service. CRD schema patterns ran on V8's backtracking
// RegExp (`^(a+)+$` against 30 characters stalled the whole server 5.6 s) and the field-selector parser
// backtracked quadratically (~290 ms for a 16 KB selector, ~90 ms for the 8 KB the server's request-target
// limit now allows). Against a real server process: CRDs full of
// catastrophic patterns take objects with adversarial values and answer 201 or 422 at once while /readyz
// stays fast; patterns RE2 cannot run, or too long or large to run cheaply, are refused with a 422 naming
// the field; values too long for their pattern's budget are a 422; 8 KB selectors of every shape are a
// quick 200 or 400, and selectors over the term limit a 400.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { duringAttack, mapConcurrently, startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';
import type { HttpResult, RequestOptions } from '../env/http.ts';
import { waitFor } from '../env/process.ts';

const NS = 'rx';
const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const CONFIGMAPS = `/api/v1/namespaces/${NS}/configmaps`;

/** Patterns that take exponential or polynomial time on a backtracking engine. */
const CATASTROPHIC = [
  '^(a+)+$', '(a|aa)*$', '^(a|aa)+$', '(a*)*b', '^(a|a)*$', '(.*a){20}', '(.*a){20}$', '^(\\w+\\s?)*$',
  '^(([a-z])+.)+[A-Z]([a-z])+$', '(x+x+)+y', '^(a?){25}a{25}$', '^((ab)*|a(ba)*)+c$', '^(\\d+|\\d+\\.\\d+)*x$',
  '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$',
  '^(([a-z0-9]+-?)+)+\\.example$', '(\\s*,?\\s*)*!$', '^(.*?,){11}P',
];
/** Values that make those patterns backtrack (an object with many long ones may also overrun the matching budget: a 422). */
const ADVERSARIAL = [
  'a'.repeat(30) + '!', 'a'.repeat(32) + 'b', 'a'.repeat(2000) + '!', 'x'.repeat(2000), 'ab'.repeat(1000), '1.1'.repeat(600) + '!',
  'aaaa@'.repeat(300) + '!', 'a-'.repeat(1000) + '.', ' , '.repeat(600) + '?', 'a '.repeat(1000) + '!', ','.repeat(30) + 'x', 'é'.repeat(1500) + '!',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', '',
];

let server: ApiServerProcess;

function crd(plural: string, properties: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.regex.example.com` },
    spec: {
      group: 'regex.example.com',
      scope: 'Namespaced',
      names: { plural, kind: plural[0].toUpperCase() + plural.slice(1, -1) },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties } } } } }],
    },
  };
}

/** How long any one request may take before the server counts as stalled (the old code stalled for minutes). */
const REQUEST_DEADLINE_MS = 10_000;

/** A request that fails the test, rather than hanging it, when the server does not answer in time. */
async function request(path: string, options: RequestOptions = {}): Promise<HttpResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${options.method ?? 'GET'} ${path.slice(0, 80)}: no answer within ${REQUEST_DEADLINE_MS} ms`)), REQUEST_DEADLINE_MS);
  });
  try {
    return await Promise.race([server.client.request(path, options), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function post(path: string, body: unknown): Promise<HttpResult> {
  return request(path, { method: 'POST', body: JSON.stringify(body) });
}

/**
 * Sends the requests of an attack, at most three at a time. Once one has had no answer in time the server
 * is stalled and the rest are not sent (status 0), so the test fails fast instead of queueing behind it.
 */
async function attack<T>(items: readonly T[], send: (item: T, index: number) => Promise<HttpResult>): Promise<Array<{ index: number; status: number; ms: number }>> {
  let stalled = false;
  return mapConcurrently(items, 3, async (item, index) => {
    if (stalled) return { index, status: 0, ms: 0 };
    const started = performance.now();
    try {
      const response = await send(item, index);
      return { index, status: response.status, ms: performance.now() - started };
    } catch {
      stalled = true;
      return { index, status: -1, ms: performance.now() - started };
    }
  });
}

/** Creates a CRD and waits, with a deadline, until its objects can be listed. */
async function establish(plural: string, properties: Record<string, unknown>): Promise<string> {
  const created = await post(CRDS, crd(plural, properties));
  expect([created.status, created.text.slice(0, 300)]).toEqual([201, expect.any(String)]);
  const path = `/apis/regex.example.com/v1/namespaces/${NS}/${plural}`;
  await waitFor(`${plural} served`, async () => (await request(path)).status === 200, { timeoutMs: 30_000 });
  // Served comes before the controller's status write (Established): a read-modify-write of the CRD made in
  // between would get 409 Conflict for the status write, not for anything it tests.
  await waitFor(`${plural} Established`, async () => {
    const conditions = (await request(`${CRDS}/${plural}.regex.example.com`)).json().status?.conditions as Array<{ type: string; status: string }> | undefined;
    return conditions?.some((condition) => condition.type === 'Established' && condition.status === 'True') === true;
  }, { timeoutMs: 30_000 });
  return path;
}

beforeAll(async () => {
  server = await startApiServerProcess({ maxOldSpaceMb: 1024 });
  expect((await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })).status).toBe(201);
  expect((await post(CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'target', labels: { app: 'web' } } })).status).toBe(201);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('schema patterns', () => {
  it('answers objects with adversarial values for catastrophic patterns with 201 or 422 at once, /readyz staying fast', async () => {
    const properties: Record<string, Record<string, unknown>> = Object.fromEntries(CATASTROPHIC.map((pattern, index) => [`p${index}`, { type: 'string', pattern }]));
    // The same patterns as list items, map values and int-or-string values.
    properties.list = { type: 'array', items: { type: 'string', pattern: CATASTROPHIC[0] } };
    properties.map = { type: 'object', additionalProperties: { type: 'string', pattern: CATASTROPHIC[1] } };
    properties.quantity = { 'x-kubernetes-int-or-string': true, pattern: CATASTROPHIC[2] };
    const path = await establish('catastrophes', properties);
    // Each value once in every field, then each field alone with every value.
    const specs = [
      ...ADVERSARIAL.map((value) => ({ ...Object.fromEntries(CATASTROPHIC.map((_, index) => [`p${index}`, value])), list: [value, value], map: { k: value }, quantity: value })),
      ...CATASTROPHIC.flatMap((_, index) => ADVERSARIAL.map((value) => ({ [`p${index}`]: value }))),
    ];
    const { result, readyz } = await duringAttack(server, () =>
      attack(specs, (spec, index) => post(path, { apiVersion: 'regex.example.com/v1', kind: 'Catastrophe', metadata: { name: `c${index}` }, spec })),
    );
    expect(result.filter(({ status }) => status !== 201 && status !== 422)).toEqual([]);
    expect(result.filter(({ ms }) => ms > 2000)).toEqual([]);
    expect(result.some(({ status }) => status === 201)).toBe(true);
    expect(result.some(({ status }) => status === 422)).toBe(true);
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
    expect(server.alive()).toBe(true);
  }, 300_000);

  it('still validates: a mismatch is a 422 naming the field and a match is stored', async () => {
    const path = await establish('names', { name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }, free: { type: 'string', pattern: 'needle' } });
    const good = await post(path, { apiVersion: 'regex.example.com/v1', kind: 'Name', metadata: { name: 'good' }, spec: { name: 'my-name', free: 'hay needle hay' } });
    expect(good.status).toBe(201);
    const bad = await post(path, { apiVersion: 'regex.example.com/v1', kind: 'Name', metadata: { name: 'bad' }, spec: { name: '-my-name', free: 'hay' } });
    expect(bad.status).toBe(422);
    expect(bad.json().details.causes.map((cause: { field: string }) => cause.field).sort()).toEqual(['spec.free', 'spec.name']);
  });

  it('refuses a value too long to match against its pattern within the budget with a 422, quickly', async () => {
    const path = await establish('widepatterns', { wide: { type: 'string', pattern: '^(?:a|b| ){1000}!' } });
    const { result, readyz } = await duringAttack(server, () =>
      mapConcurrently([1, 2, 3, 4, 5, 6], 3, async (index) => {
        const started = performance.now();
        // Odd: 400,000 characters × ~1,000 instructions is far over the budget. Even: within it, and no match.
        const spec = index % 2 ? { wide: 'a '.repeat(200_000) } : { wide: 'ab'.repeat(1000) + '!' };
        const response = await post(path, { apiVersion: 'regex.example.com/v1', kind: 'Widepattern', metadata: { name: `w${index}` }, spec });
        return { status: response.status, ms: performance.now() - started, causes: response.status === 422 ? response.json().details.causes : [] };
      }),
    );
    for (const { status, ms, causes } of result) {
      expect(status).toBe(422);
      expect(ms).toBeLessThan(2000);
      expect(causes[0]).toMatchObject({ field: 'spec.wide' });
    }
    expect(result.filter(({ causes }) => causes[0].reason === 'FieldValueForbidden')).toHaveLength(3);
    expect(readyz.maxMs).toBeLessThan(1000);
  }, 120_000);
});

describe('CRDs with patterns the server will not run', () => {
  const FIELD = 'spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.x.pattern';
  const refused: Array<[string, string]> = [
    ['backreference', '^(a+)\\1$'],
    ['named backreference', '(?<n>a)\\k<n>'],
    ['lookahead', '^(?=.*[A-Z]).+$'],
    ['negative lookahead', '^(?!admin).*$'],
    ['lookbehind', '(?<=a)b'],
    ['negative lookbehind', '(?<!a)b'],
    ['possessive quantifier', 'a++'],
    ['over 1000 characters', 'a'.repeat(1001)],
    ['over 1000 characters of alternatives', Array.from({ length: 300 }, (_, index) => `w${index}`).join('|')],
    ['repeat count over 1000', 'a{1001}'],
    ['nested repeats over 1000', '(?:a{100}){100}'],
    ['too many instructions', '.{1000}'.repeat(6)],
  ];

  it.each(refused)('refuses a %s with a 422 naming the field, and stores nothing', async (name, pattern) => {
    const plural = `refused${refused.findIndex(([candidate]) => candidate === name)}s`;
    const response = await post(CRDS, crd(plural, { x: { type: 'string', pattern } }));
    expect(response.status).toBe(422);
    expect(response.json().message).toContain(FIELD);
    expect((await request(`${CRDS}/${plural}.regex.example.com`)).status).toBe(404);
  });

  it('refuses such a pattern on update too, and anywhere in the schema', async () => {
    await establish('updated', { x: { type: 'string', pattern: '^ok$' } });
    const current = (await request(`${CRDS}/updated.regex.example.com`)).json();
    current.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.x = { type: 'array', items: { type: 'string', pattern: '(a)\\1' } };
    const response = await request(`${CRDS}/updated.regex.example.com`, { method: 'PUT', body: JSON.stringify(current) });
    expect(response.status).toBe(422);
    expect(response.json().message).toContain('spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.x.items.pattern');
  });
});

describe('selectors', () => {
  /** Repeats unit after prefix until the query parameter, encoded, is about 8,000 characters (the server refuses request targets over 8,192). */
  function sized(prefix: string, unit: string, suffix = ''): string {
    const encodedLength = (text: string) => new URLSearchParams({ s: text }).toString().length - 's='.length;
    const count = Math.floor((8000 - encodedLength(prefix + suffix)) / encodedLength(unit));
    return prefix + unit.repeat(count) + suffix;
  }
  const fieldSelectors = [
    sized('metadata.name=x', ' ', ')'), sized('metadata.name=x', ' ', 'y'), sized('metadata.name=', ' x'), sized('', ' ', 'a'), sized('metadata.name', ' ', '=x'),
    sized('', 'a'), sized('', 'a', '=x'), sized('', 'metadata.name!=a,', 'metadata.name!=b'), sized('', ','), sized('', '!'), sized('metadata.name=', 'é'), sized('metadata.name=x', '\t', ')'),
  ];
  const labelSelectors = [
    sized('app=x', ' ', ')'), sized('app in (', 'a,', 'a)'), sized('app in (', ' ', ')'), sized('app in ', '('), sized('', ')'), sized('', 'a-', '!/b'), sized('', 'a.', 'a/b'),
    sized('', 'a,'), sized('', '!'), sized('', 'a'), sized('app', ' ', 'b'), sized('', 'a ', 'in (x)'), sized('app>', '1'), sized('', 'a=,'),
  ];

  it('answers 8 KB selectors of every shape with a quick 200 or 400 while /readyz stays fast', async () => {
    const requests = [
      ...fieldSelectors.map((selector) => `${CONFIGMAPS}?${new URLSearchParams({ fieldSelector: selector })}`),
      ...labelSelectors.map((selector) => `${CONFIGMAPS}?${new URLSearchParams({ labelSelector: selector })}`),
      ...labelSelectors.map((selector) => `/api/v1/configmaps?${new URLSearchParams({ labelSelector: selector, fieldSelector: 'metadata.namespace=rx' })}`),
    ];
    for (const path of requests) expect(path.length).toBeLessThanOrEqual(8192);
    const { result, readyz } = await duringAttack(server, () => attack([...requests, ...requests, ...requests], (path) => request(path)));
    expect(result.filter(({ status }) => status !== 200 && status !== 400)).toEqual([]);
    expect(result.filter(({ ms }) => ms > 1000)).toEqual([]);
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
    expect(server.alive()).toBe(true);
  }, 120_000);

  it('parses the selector that was quadratic in linear time: forty in a row take well under a second', async () => {
    const path = `${CONFIGMAPS}?${new URLSearchParams({ fieldSelector: fieldSelectors[0] })}`;
    await request(path);
    const started = performance.now();
    for (let round = 0; round < 40; round++) expect((await request(path)).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000); // ~2 s before (~50 ms each), ~75 ms now
  });

  it('refuses selectors over 100 terms with a 400 that says why, and accepts 100', async () => {
    const fieldTerms = (count: number) => Array.from({ length: count }, (_, index) => `metadata.name!=n${index}`).join(',');
    const labelTerms = (count: number) => Array.from({ length: count }, (_, index) => `!k${index}`).join(',');
    const list = (query: Record<string, string>) => request(`${CONFIGMAPS}?${new URLSearchParams(query)}`);
    expect((await list({ fieldSelector: fieldTerms(100) })).status).toBe(200);
    expect((await list({ labelSelector: labelTerms(100) })).json().items.map((item: { metadata: { name: string } }) => item.metadata.name)).toEqual(['target']);
    const tooManyFields = await list({ fieldSelector: fieldTerms(101) });
    expect(tooManyFields.status).toBe(400);
    expect(tooManyFields.json().message).toBe('invalid fieldSelector: the selector has 101 terms, more than the 100 allowed');
    const tooManyLabels = await list({ labelSelector: labelTerms(101) });
    expect(tooManyLabels.status).toBe(400);
    expect(tooManyLabels.json().message).toBe('invalid labelSelector: the selector has 101 terms, more than the 100 allowed');
  });
});
