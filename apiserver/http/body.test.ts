import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ApiError } from '../errors.ts';
import { closeBodyDecoders, decodeObjectBody, decodePatchBody, INLINE_YAML_BYTES, mediaType, parseJson, readBody } from './body.ts';
import { decodeYamlText as parseYaml } from './yaml-decode.ts';

function apiError(action: () => unknown): ApiError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('no error');
}

async function apiErrorOf(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('no error');
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('mediaType', () => {
  it('drops parameters and lower-cases', () => {
    expect(mediaType('Application/JSON; charset=utf-8')).toBe('application/json');
    expect(mediaType(undefined)).toBe('');
  });
});

describe('parseJson', () => {
  it('parses JSON documents', () => {
    expect(parseJson('{"a":[1,{"b":null}]}')).toEqual({ a: [1, { b: null }] });
  });

  it('refuses invalid JSON with a 400 naming the problem', () => {
    const error = apiError(() => parseJson('{"a":'));
    expect(error.code).toBe(400);
    expect(error.message).toMatch(/^the request body is not valid JSON: /);
  });

  it('refuses documents nested more than 100 levels deep', () => {
    expect(parseJson(nested(100))).toBeDefined();
    const error = apiError(() => parseJson(nested(102)));
    expect(error.code).toBe(400);
    expect(error.message).toBe('the request body is nested more than 100 levels deep');
    expect(apiError(() => parseJson(`{"a":${'{"a":'.repeat(150)}1${'}'.repeat(150)}}`)).code).toBe(400);
  });

  it('refuses "__proto__" keys at any depth', () => {
    expect(apiError(() => parseJson('{"__proto__":{"polluted":true}}')).message).toBe('field name "__proto__" is not allowed');
    expect(apiError(() => parseJson('{"spec":{"list":[{"__proto__":1}]}}')).code).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(parseJson('{"proto":1,"constructor":{"prototype":1}}')).toEqual({ proto: 1, constructor: { prototype: 1 } });
  });
});

describe('parseYaml', () => {
  it('parses one YAML document, and JSON as YAML', () => {
    expect(parseYaml('apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n')).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } });
    expect(parseYaml('{"a": [1, 2]}')).toEqual({ a: [1, 2] });
    expect(parseYaml('---\na: 1\n')).toEqual({ a: 1 });
  });

  it('refuses several documents, and no document', () => {
    expect(apiError(() => parseYaml('a: 1\n---\nb: 2\n')).message).toBe('the request body must hold exactly one YAML document');
    expect(apiError(() => parseYaml('')).code).toBe(400);
  });

  it('refuses duplicate keys', () => {
    const error = apiError(() => parseYaml('a: 1\na: 2\n'));
    expect(error.code).toBe(400);
    expect(error.message).toMatch(/^the request body is not valid YAML: /);
    expect(apiError(() => parseYaml('spec:\n  x: 1\n  x: 1\n')).code).toBe(400);
  });

  it('refuses syntax errors', () => {
    expect(apiError(() => parseYaml('a: [1, 2\n')).message).toMatch(/^the request body is not valid YAML: /);
  });

  it('refuses alias bombs, deep nesting and "__proto__" keys', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, index) => {
      const name = String.fromCharCode(98 + index);
      const previous = String.fromCharCode(97 + index);
      return `${name}: &${name} [*${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}]`;
    })].join('\n');
    expect(apiError(() => parseYaml(bomb)).code).toBe(400);
    expect(apiError(() => parseYaml(nested(150))).code).toBe(400);
    expect(apiError(() => parseYaml('__proto__:\n  polluted: true\n')).message).toBe('field name "__proto__" is not allowed');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('decodeObjectBody', () => {
  it('decodes JSON (also without a content type) and YAML', async () => {
    expect(await decodeObjectBody(undefined, Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(await decodeObjectBody('application/json; charset=utf-8', Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(await decodeObjectBody('application/yaml', Buffer.from('a: 1'))).toEqual({ a: 1 });
  });

  it('refuses empty bodies (400) and other media types (415)', async () => {
    expect((await apiErrorOf(decodeObjectBody('application/json', Buffer.alloc(0)))).message).toBe('the request body is empty');
    const error = await apiErrorOf(decodeObjectBody('text/plain', Buffer.from('a')));
    expect(error.code).toBe(415);
    expect(error.message).toBe('the body of the request was in an unknown format - accepted media types include: application/json, application/yaml');
  });
});

describe('decodePatchBody', () => {
  it('accepts the three patch types kubectl and client-node send', async () => {
    expect(await decodePatchBody('application/merge-patch+json', Buffer.from('{"spec":{"a":null}}'))).toEqual({ patchType: 'application/merge-patch+json', patch: { spec: { a: null } } });
    expect(await decodePatchBody('application/json-patch+json', Buffer.from('[{"op":"remove","path":"/a"}]'))).toEqual({ patchType: 'application/json-patch+json', patch: [{ op: 'remove', path: '/a' }] });
    expect(await decodePatchBody('application/apply-patch+yaml', Buffer.from('kind: Vpc\nspec:\n  a: 1\n'))).toEqual({ patchType: 'application/apply-patch+yaml', patch: { kind: 'Vpc', spec: { a: 1 } } });
    expect((await decodePatchBody('application/apply-patch+yaml; charset=utf-8', Buffer.from('{"kind":"Vpc"}'))).patch).toEqual({ kind: 'Vpc' });
  });

  it('refuses strategic merge patch with 415, listing the supported types', async () => {
    const error = await apiErrorOf(decodePatchBody('application/strategic-merge-patch+json', Buffer.from('{}')));
    expect(error.code).toBe(415);
    expect(error.reason).toBe('UnsupportedMediaType');
    expect(error.message).toBe('the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
    expect(error.details?.causes).toEqual([{ reason: 'UnsupportedMediaType', message: 'unsupported Content-Type "application/strategic-merge-patch+json"' }]);
    expect((await apiErrorOf(decodePatchBody(undefined, Buffer.from('{}')))).code).toBe(415);
    expect((await apiErrorOf(decodePatchBody('application/json', Buffer.from('{}')))).code).toBe(415);
  });

  it('accepts strategic merge patch only for kinds with patch strategies (built-in kinds), and then lists it', async () => {
    expect(await decodePatchBody('application/strategic-merge-patch+json', Buffer.from('{"data":{"a":null}}'), { strategicMerge: true })).toEqual({ patchType: 'application/strategic-merge-patch+json', patch: { data: { a: null } } });
    const error = await apiErrorOf(decodePatchBody('application/json', Buffer.from('{}'), { strategicMerge: true }));
    expect(error.code).toBe(415);
    expect(error.message).toBe('the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json');
  });

  it('refuses empty and undecodable patches with 400', async () => {
    expect((await apiErrorOf(decodePatchBody('application/merge-patch+json', Buffer.alloc(0)))).message).toBe('the patch body is empty');
    expect((await apiErrorOf(decodePatchBody('application/merge-patch+json', Buffer.from('spec: 1')))).code).toBe(400);
    expect((await apiErrorOf(decodePatchBody('application/apply-patch+yaml', Buffer.from('a: 1\na: 2')))).code).toBe(400);
  });
});

describe('readBody', () => {
  const request = (chunks: Buffer[], headers: Record<string, string> = {}) => Object.assign(Readable.from(chunks), { headers }) as unknown as IncomingMessage;

  it('concatenates the chunks', async () => {
    expect((await readBody(request([Buffer.from('ab'), Buffer.from('c')]))).toString()).toBe('abc');
  });

  it('refuses bodies over the limit with 413, whether declared or streamed', async () => {
    await expect(readBody(request([Buffer.from('abc')], { 'content-length': '3' }), 2)).rejects.toMatchObject({ code: 413, message: 'Request entity too large: limit is 2' });
    await expect(readBody(request([Buffer.from('ab'), Buffer.from('c')]), 2)).rejects.toMatchObject({ code: 413, reason: 'RequestEntityTooLarge' });
  });
});

describe('bounded decoding', () => {
  afterAll(() => closeBodyDecoders());

  /** Runs work while a timer measures the longest stall of the event loop. */
  async function longestStall(work: () => Promise<unknown>): Promise<number> {
    let longest = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 5);
    try {
      await work();
    } finally {
      clearInterval(timer);
    }
    return longest;
  }

  it('refuses deep JSON from its text, before JSON.parse builds it', () => {
    const text = '['.repeat(1_500_000) + ']'.repeat(1_500_000);
    const started = performance.now();
    expect(apiError(() => parseJson(text)).message).toBe('the request body is nested more than 100 levels deep');
    expect(performance.now() - started).toBeLessThan(50);
    expect(parseJson('["[[[[[[", {"a": "]]]]"}]')).toEqual(['[[[[[[', { a: ']]]]' }]);
  });

  it('refuses deep YAML of every shape without recursing (no stack overflow, no crash), small or large', async () => {
    for (const text of ['['.repeat(1500) + ']'.repeat(1500), '{a: '.repeat(800) + '}'.repeat(800), '- '.repeat(1500) + 'x', '['.repeat(5000) + ']'.repeat(5000), '- '.repeat(5000) + 'x', Array.from({ length: 3000 }, (_, depth) => `${' '.repeat(depth)}a:`).join('\n')]) {
      expect((await apiErrorOf(decodeObjectBody('application/yaml', Buffer.from(text)))).message).toBe('the request body is nested more than 100 levels deep');
    }
  });

  it('refuses bodies with more than 50,000 fields (JSON before it is parsed)', async () => {
    const many = `{${Array.from({ length: 50_001 }, (_, index) => `"k${index}":1`).join(',')}}`;
    expect((await apiErrorOf(decodeObjectBody('application/json', Buffer.from(many)))).code).toBe(413);
    expect((await apiErrorOf(decodeObjectBody('application/json', Buffer.from(`[${'0,'.repeat(60_000)}0]`)))).code).toBe(413);
    expect((await apiErrorOf(decodeObjectBody('application/yaml', Buffer.from(`a:\n${'- 1\n'.repeat(60_000)}`)))).code).toBe(413);
    expect(await decodeObjectBody('application/json', Buffer.from(`{${Array.from({ length: 40_000 }, (_, index) => `"k${index}":"a,b,[c]"`).join(',')}}`))).toBeDefined();
  });

  it('refuses a bomb at the token that makes it one, not after parsing the whole body', () => {
    // 350,000 documents, 1.5 million nested `- `, 150,000 keys: each took 6–12 s of parsing before its refusal.
    // Each ends in a second problem that a whole-body parse would have reported first (depth, a duplicate key),
    // so the message shows where decoding stopped.
    const MB3 = 3 * 1024 * 1024;
    const keys = Array.from({ length: 150_000 }, (_, index) => `k${index}: v`).join('\n');
    expect(apiError(() => parseYaml(`${'---\na: 1\n'.repeat(MB3 / 10)}---\n${'- '.repeat(5000)}x`)).message).toBe('the request body must hold exactly one YAML document');
    expect(apiError(() => parseYaml(`${keys}\nk1: again\n`)).message).toBe('Request entity too large: the request body has more than 50000 fields');
    expect(apiError(() => parseYaml(`${'- '.repeat(MB3 / 2)}x`)).message).toBe('the request body is nested more than 100 levels deep');
  });

  it('still decodes legal bodies near the limits (entries that decode to nothing are not held against them)', () => {
    // 24,000 flow lists with a trailing comma: 72,000 entries in the syntax tree, 48,000 fields decoded.
    const trailing = `[${'[a,],'.repeat(24_000)}]`;
    expect((parseYaml(trailing) as unknown[]).length).toBe(24_000);
    const keys = Array.from({ length: 49_000 }, (_, index) => `k${index}: v`).join('\n');
    expect(Object.keys(parseYaml(keys) as object)).toHaveLength(49_000);
    expect(parseYaml(`${'- '.repeat(100)}x`)).toBeDefined();
    expect(parseYaml(Array.from({ length: 100 }, (_, depth) => `${' '.repeat(depth)}a:`).join('\n'))).toBeDefined();
    expect(parseYaml(Array.from({ length: 50 }, (_, level) => `${' '.repeat(4 * level)}- a:`).join('\n'))).toBeDefined();
  });

  it('finds duplicate keys among many in linear time', () => {
    const keys = Array.from({ length: 20_000 }, (_, index) => `k${index}: v`).join('\n');
    const started = performance.now();
    expect(apiError(() => parseYaml(`${keys}\nk7: again\n`)).message).toBe('the request body is not valid YAML: duplicate key "k7"');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(apiError(() => parseYaml('? [a, b]\n: 1\n')).message).toBe('the request body is not valid YAML: mapping keys must be scalars');
  });

  it('decodes large YAML bodies on a worker thread, never stalling the event loop', async () => {
    const items = Array.from({ length: 6_000 }, (_, index) => `  - name: item-${index}\n    value: [1, 2, "three"]`).join('\n');
    const text = `kind: ConfigMap\nitems:\n${items}\n`;
    expect(text.length).toBeGreaterThan(INLINE_YAML_BYTES);
    let decoded: any;
    const stall = await longestStall(async () => {
      decoded = await decodeObjectBody('application/yaml', Buffer.from(text));
    });
    expect(decoded.items).toHaveLength(6_000);
    expect(decoded.items[5_999]).toEqual({ name: 'item-5999', value: [1, 2, 'three'] });
    // The worker does the parsing; the event loop only receives the result.
    expect(stall).toBeLessThan(250);
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const deepStall = await longestStall(async () => {
      expect((await apiErrorOf(decodeObjectBody('application/yaml', Buffer.from(deep)))).code).toBe(400);
    });
    expect(deepStall).toBeLessThan(250);
  }, 60_000);

  it('measures what aliases expand to', async () => {
    const anchor = `a: &a [${Array.from({ length: 1000 }, () => '"' + 'x'.repeat(1000) + '"').join(', ')}]`;
    const text = `${anchor}\nb: [${Array.from({ length: 90 }, () => '*a').join(', ')}]\n`;
    const error = await apiErrorOf(decodeObjectBody('application/yaml', Buffer.from(text)));
    expect(error.code).toBe(413);
  });

  it('refuses "__proto__" keys in protobuf bodies too', async () => {
    // A ConfigMap whose data map has the key __proto__ (k8s\0 envelope, typeMeta, raw).
    const entry = Buffer.concat([Buffer.from([0x0a, 9]), Buffer.from('__proto__'), Buffer.from([0x12, 1]), Buffer.from('x')]);
    const raw = Buffer.concat([Buffer.from([0x12, entry.length]), entry]);
    const typeMeta = Buffer.concat([Buffer.from([0x0a, 2]), Buffer.from('v1'), Buffer.from([0x12, 9]), Buffer.from('ConfigMap')]);
    const envelope = Buffer.concat([Buffer.from('k8s\0'), Buffer.from([0x0a, typeMeta.length]), typeMeta, Buffer.from([0x12, raw.length]), raw]);
    const error = await apiErrorOf(decodeObjectBody('application/vnd.kubernetes.protobuf', envelope));
    expect(error.message).toBe('field name "__proto__" is not allowed');
  });
});
