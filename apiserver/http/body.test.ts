import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../errors.ts';
import { decodeObjectBody, decodePatchBody, mediaType, parseJson, parseYaml, readBody } from './body.ts';

function apiError(action: () => unknown): ApiError {
  try {
    action();
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
  it('decodes JSON (also without a content type) and YAML', () => {
    expect(decodeObjectBody(undefined, Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(decodeObjectBody('application/json; charset=utf-8', Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(decodeObjectBody('application/yaml', Buffer.from('a: 1'))).toEqual({ a: 1 });
  });

  it('refuses empty bodies (400) and other media types (415)', () => {
    expect(apiError(() => decodeObjectBody('application/json', Buffer.alloc(0))).message).toBe('the request body is empty');
    const error = apiError(() => decodeObjectBody('text/plain', Buffer.from('a')));
    expect(error.code).toBe(415);
    expect(error.message).toBe('the body of the request was in an unknown format - accepted media types include: application/json, application/yaml');
  });
});

describe('decodePatchBody', () => {
  it('accepts the three patch types kubectl and client-node send', () => {
    expect(decodePatchBody('application/merge-patch+json', Buffer.from('{"spec":{"a":null}}'))).toEqual({ patchType: 'application/merge-patch+json', patch: { spec: { a: null } } });
    expect(decodePatchBody('application/json-patch+json', Buffer.from('[{"op":"remove","path":"/a"}]'))).toEqual({ patchType: 'application/json-patch+json', patch: [{ op: 'remove', path: '/a' }] });
    expect(decodePatchBody('application/apply-patch+yaml', Buffer.from('kind: Vpc\nspec:\n  a: 1\n'))).toEqual({ patchType: 'application/apply-patch+yaml', patch: { kind: 'Vpc', spec: { a: 1 } } });
    expect(decodePatchBody('application/apply-patch+yaml; charset=utf-8', Buffer.from('{"kind":"Vpc"}')).patch).toEqual({ kind: 'Vpc' });
  });

  it('refuses strategic merge patch with 415, listing the supported types', () => {
    const error = apiError(() => decodePatchBody('application/strategic-merge-patch+json', Buffer.from('{}')));
    expect(error.code).toBe(415);
    expect(error.reason).toBe('UnsupportedMediaType');
    expect(error.message).toBe('the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
    expect(error.details?.causes).toEqual([{ reason: 'UnsupportedMediaType', message: 'unsupported Content-Type "application/strategic-merge-patch+json"' }]);
    expect(apiError(() => decodePatchBody(undefined, Buffer.from('{}'))).code).toBe(415);
    expect(apiError(() => decodePatchBody('application/json', Buffer.from('{}'))).code).toBe(415);
  });

  it('refuses empty and undecodable patches with 400', () => {
    expect(apiError(() => decodePatchBody('application/merge-patch+json', Buffer.alloc(0))).message).toBe('the patch body is empty');
    expect(apiError(() => decodePatchBody('application/merge-patch+json', Buffer.from('spec: 1'))).code).toBe(400);
    expect(apiError(() => decodePatchBody('application/apply-patch+yaml', Buffer.from('a: 1\na: 2'))).code).toBe(400);
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
