// Writing responses: JSON (or YAML when asked), `Warning` headers, and Status bodies for errors.
import type { ServerResponse } from 'node:http';
import YAML from 'yaml';
import { ApiError } from '../errors.ts';
import { encodeJson } from '../watch/encoded.ts';

export function wantsYaml(accept: string | undefined): boolean {
  if (!accept) return false;
  const first = accept.split(',')[0].split(';')[0].trim();
  return first === 'application/yaml';
}

/**
 * `Warning: 299 - "text"` headers, the form kubectl prints as `Warning: text`. Header values must be
 * printable ASCII, and the text can echo client input (unknown field names), so everything else is escaped.
 */
export function warningHeaders(warnings: string[]): string[] {
  const asciiOnly = (text: string) => text.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const unique = new Set<string>();
  for (const warning of warnings) {
    if (unique.size === 50) break;
    unique.add(warning);
  }
  return [...unique].map((warning) => `299 - ${asciiOnly(JSON.stringify(warning.slice(0, 1000)))}`);
}

export function sendJson(response: ServerResponse, code: number, body: unknown, options: { accept?: string; warnings?: string[]; contentType?: string; retryAfterSeconds?: number } = {}): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  let payload: string | Buffer;
  let contentType = options.contentType ?? 'application/json';
  if (wantsYaml(options.accept)) {
    payload = YAML.stringify(body);
    contentType = 'application/yaml';
  } else {
    payload = encodeJson(body);
  }
  const headers: Record<string, string | string[]> = { 'Content-Type': contentType, 'Cache-Control': 'no-cache, private' };
  if (options.warnings?.length) headers.Warning = warningHeaders(options.warnings);
  if (options.retryAfterSeconds !== undefined) headers['Retry-After'] = String(options.retryAfterSeconds);
  response.writeHead(code, headers);
  response.end(payload);
}

/** A Status for the error; one that says when to retry (429, 504) also says so in `Retry-After`, as Kubernetes does. */
export function sendError(response: ServerResponse, error: ApiError, accept?: string): void {
  sendJson(response, error.code, error.toStatus(), { accept, retryAfterSeconds: error.details?.retryAfterSeconds });
}
