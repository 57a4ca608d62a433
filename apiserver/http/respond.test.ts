import type { ServerResponse } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { notFound } from '../errors.ts';
import { sendError, sendJson, wantsYaml, warningHeaders } from './respond.ts';

describe('warningHeaders', () => {
  it('formats each warning as `299 - "text"`, the form kubectl prints', () => {
    expect(warningHeaders(['unknown field "spec.colour"'])).toEqual(['299 - "unknown field \\"spec.colour\\""']);
  });

  it('escapes non-ASCII and control characters so the header stays printable ASCII', () => {
    const [header] = warningHeaders(['naïve 🚀\r\nX-Injected: yes\u0000\u007f']);
    expect(header).toBe('299 - "na\\u00efve \\ud83d\\ude80\\r\\nX-Injected: yes\\u0000\\u007f"');
    expect(header).toMatch(/^[\x20-\x7e]*$/);
  });

  it('drops duplicates, keeps order, caps the count at 50 and each text at 1000 characters', () => {
    expect(warningHeaders(['b', 'a', 'b'])).toEqual(['299 - "b"', '299 - "a"']);
    expect(warningHeaders(Array.from({ length: 60 }, (_, index) => `w${index}`))).toHaveLength(50);
    expect(warningHeaders(['x'.repeat(5000)])[0]).toBe(`299 - "${'x'.repeat(1000)}"`);
    expect(warningHeaders([])).toEqual([]);
  });
});

describe('wantsYaml', () => {
  it('only when YAML is the first media type asked for', () => {
    expect(wantsYaml('application/yaml')).toBe(true);
    expect(wantsYaml('application/yaml;q=0.9, application/json')).toBe(true);
    expect(wantsYaml('application/json, application/yaml')).toBe(false);
    expect(wantsYaml(undefined)).toBe(false);
  });
});

class FakeResponse {
  headersSent = false;
  code?: number;
  headers?: Record<string, string | string[]>;
  body?: string;
  ended = false;
  writeHead(code: number, headers: Record<string, string | string[]>) {
    this.code = code;
    this.headers = headers;
    this.headersSent = true;
    return this;
  }
  end(body?: string) {
    this.body = body;
    this.ended = true;
  }
}

describe('sendJson / sendError', () => {
  it('writes JSON with Warning headers', () => {
    const response = new FakeResponse();
    sendJson(response as unknown as ServerResponse, 201, { a: 1 }, { warnings: ['w1', 'w2'] });
    expect(response.code).toBe(201);
    expect(response.headers).toEqual({ 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', Warning: ['299 - "w1"', '299 - "w2"'] });
    expect(JSON.parse(response.body!)).toEqual({ a: 1 });
  });

  it('writes YAML when asked, and a given content type otherwise', () => {
    const yaml = new FakeResponse();
    sendJson(yaml as unknown as ServerResponse, 200, { a: 1 }, { accept: 'application/yaml' });
    expect(yaml.headers!['Content-Type']).toBe('application/yaml');
    expect(yaml.body).toBe('a: 1\n');
    const typed = new FakeResponse();
    sendJson(typed as unknown as ServerResponse, 200, {}, { contentType: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' });
    expect(typed.headers!['Content-Type']).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
  });

  it('only ends a response whose headers were already sent', () => {
    const response = new FakeResponse();
    response.headersSent = true;
    sendJson(response as unknown as ServerResponse, 200, { a: 1 });
    expect(response.code).toBeUndefined();
    expect(response.ended).toBe(true);
    expect(response.body).toBeUndefined();
  });

  it('sends errors as Status objects with their code', () => {
    const response = new FakeResponse();
    sendError(response as unknown as ServerResponse, notFound('vpcs', 'network.photoncloud.io', 'x'));
    expect(response.code).toBe(404);
    expect(JSON.parse(response.body!)).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
  });
});
