// Request bodies: size limit (413), media type (415), JSON, YAML or protobuf decoding (400 naming the
// problem), each bounded in depth and expanded size (structure-limits.ts) before anything walks the value.
import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest, requestEntityTooLarge, unsupportedMediaType } from '../errors.ts';
import { decodeProtobufObject } from './protobuf.ts';
import { checkDecodedValue, checkJsonText } from './structure-limits.ts';
import { decodeYamlText } from './yaml-decode.ts';
import { YamlWorkerPool } from './yaml-worker-pool.ts';

/** Kubernetes' limit for a request body. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** YAML bodies up to this size are decoded on the event loop (the parser takes up to ~12 µs a byte on hostile shapes: ≤ 50 ms); larger ones on a worker. */
export const INLINE_YAML_BYTES = 4 * 1024;

export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'] as const;
/** Only for the built-in kinds kubectl has Go types for (see patch/strategic-merge-patch.ts). */
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export type PatchType = (typeof PATCH_TYPES)[number] | typeof STRATEGIC_MERGE_PATCH;
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

/**
 * JSON text, checked in one pass before JSON.parse builds it and again once decoded; a syntax error is
 * returned, not thrown, because what it means depends on the media type.
 */
function checkedJson(text: string): { value: unknown } | { syntaxError: Error } {
  checkJsonText(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { syntaxError: error as Error };
  }
  checkDecodedValue(value);
  return { value };
}

export function parseJson(text: string): unknown {
  const parsed = checkedJson(text);
  if ('syntaxError' in parsed) throw badRequest(`the request body is not valid JSON: ${parsed.syntaxError.message}`);
  return parsed.value;
}

let yamlWorkers: YamlWorkerPool | undefined;

/** Stops the worker that decodes large YAML bodies (server shutdown). */
export function closeBodyDecoders(): void {
  yamlWorkers?.close();
  yamlWorkers = undefined;
}

/**
 * A YAML body. JSON is YAML, and clients (kubectl's server-side apply) mostly send JSON under YAML media
 * types, so text that parses as JSON takes that fast path; other small documents are decoded here, large
 * ones on the worker thread.
 */
export async function decodeYaml(text: string): Promise<unknown> {
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    const parsed = checkedJson(text);
    if ('value' in parsed) return parsed.value;
    // Not JSON after all: flow-style YAML such as {a: b}.
  }
  if (text.length <= INLINE_YAML_BYTES) return decodeYamlText(text);
  yamlWorkers ??= new YamlWorkerPool();
  return yamlWorkers.decode(text);
}

function checkDecodedProtobuf(value: Record<string, unknown>): Record<string, unknown> {
  checkDecodedValue(value);
  return value;
}

/** Decodes a create/update body: JSON (also when no type is given), YAML, or protobuf for built-in kinds. */
export async function decodeObjectBody(contentType: string | undefined, body: Buffer): Promise<unknown> {
  const type = mediaType(contentType);
  if (body.length === 0) throw badRequest('the request body is empty');
  if (type === '' || type === 'application/json') return parseJson(body.toString('utf8'));
  if (type === 'application/yaml') return decodeYaml(body.toString('utf8'));
  if (type === 'application/vnd.kubernetes.protobuf') return checkDecodedProtobuf(decodeProtobufObject(body));
  throw unsupportedMediaType(type, BODY_TYPES);
}

/**
 * Decodes a PATCH body according to its patch type. Strategic merge patch is refused (415) unless the kind
 * has patch strategies (`strategicMerge`: built-in kinds); custom kinds have none, as in Kubernetes.
 */
export async function decodePatchBody(contentType: string | undefined, body: Buffer, options: { strategicMerge?: boolean } = {}): Promise<{ patchType: PatchType; patch: unknown }> {
  const type = mediaType(contentType);
  const accepted: string[] = options.strategicMerge ? [...PATCH_TYPES, STRATEGIC_MERGE_PATCH] : [...PATCH_TYPES];
  if (!accepted.includes(type)) throw unsupportedMediaType(type, accepted);
  if (body.length === 0) throw badRequest('the patch body is empty');
  const text = body.toString('utf8');
  const patch = type === 'application/apply-patch+yaml' ? await decodeYaml(text) : parseJson(text);
  return { patchType: type as PatchType, patch };
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}
