// Request bodies: size limit (413), media type (415), JSON or YAML decoding (400 naming the problem).
import type { IncomingMessage } from 'node:http';
import YAML from 'yaml';
import { ApiError, badRequest, requestEntityTooLarge, unsupportedMediaType } from '../errors.ts';
import { decodeProtobufObject } from './protobuf.ts';

/** Kubernetes' limit for a request body. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Deeper documents are refused before any recursive code walks them. */
const MAX_DEPTH = 100;

export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'] as const;
export type PatchType = (typeof PATCH_TYPES)[number];
const BODY_TYPES = ['application/json', 'application/yaml'];

/** The media type without parameters, lower-cased (`application/json; charset=utf-8` → `application/json`). */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

export async function readBody(request: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) {
    request.resume(); // drain so the connection can answer
    throw requestEntityTooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      request.resume();
      throw requestEntityTooLarge(limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function checkDepthAndKeys(value: unknown): void {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_DEPTH) throw badRequest(`the request body is nested more than ${MAX_DEPTH} levels deep`);
    if (Array.isArray(node)) for (const item of node) stack.push([item, depth + 1]);
    else
      for (const [key, item] of Object.entries(node)) {
        if (key === '__proto__') throw badRequest('field name "__proto__" is not allowed');
        stack.push([item, depth + 1]);
      }
  }
}

export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(`the request body is not valid JSON: ${(error as Error).message}`);
  }
  checkDepthAndKeys(value);
  return value;
}

export function parseYaml(text: string): unknown {
  let documents: YAML.Document.Parsed[];
  try {
    documents = YAML.parseAllDocuments(text, { uniqueKeys: true }) as YAML.Document.Parsed[];
  } catch (error) {
    throw badRequest(`the request body is not valid YAML: ${(error as Error).message}`);
  }
  if (!Array.isArray(documents) || documents.length !== 1) throw badRequest('the request body must hold exactly one YAML document');
  const [document] = documents;
  if (document.errors.length > 0) throw badRequest(`the request body is not valid YAML: ${document.errors[0].message}`);
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw badRequest(`the request body is not valid YAML: ${(error as Error).message}`);
  }
  checkDepthAndKeys(value);
  return value;
}

/** Decodes a create/update body: JSON (also when no type is given), YAML, or protobuf for built-in kinds. */
export function decodeObjectBody(contentType: string | undefined, body: Buffer): unknown {
  const type = mediaType(contentType);
  if (body.length === 0) throw badRequest('the request body is empty');
  if (type === '' || type === 'application/json') return parseJson(body.toString('utf8'));
  if (type === 'application/yaml') return parseYaml(body.toString('utf8'));
  if (type === 'application/vnd.kubernetes.protobuf') return decodeProtobufObject(body);
  throw unsupportedMediaType(type, BODY_TYPES);
}

/** Decodes a PATCH body according to its patch type; strategic merge patch is refused (custom kinds have none). */
export function decodePatchBody(contentType: string | undefined, body: Buffer): { patchType: PatchType; patch: unknown } {
  const type = mediaType(contentType);
  if (!(PATCH_TYPES as readonly string[]).includes(type)) throw unsupportedMediaType(type, [...PATCH_TYPES]);
  if (body.length === 0) throw badRequest('the patch body is empty');
  const text = body.toString('utf8');
  const patch = type === 'application/apply-patch+yaml' ? parseYaml(text) : parseJson(text);
  return { patchType: type as PatchType, patch };
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}
