// RFC 6902 JSON patch (application/json-patch+json). Malformed documents are the client's fault (400);
// operations that do not fit the object (missing path, failed test) are reported per operation.
import { jsonEqual } from '../../apis/meta/equality.ts';
import { isPlainObject } from '../schema/structural-schema.ts';
import { jsonBytesUpTo, MAX_JSON_PATCH_COPY_BYTES, MAX_JSON_PATCH_OPERATIONS } from '../limits.ts';
import { setOwn } from './merge-patch.ts';
import { cloneJson } from '../../lib/json-clone.ts';

export class JsonPatchError extends Error {
  constructor(
    message: string,
    /** 'malformed' → 400; 'failed' → the patch cannot be applied to this object (422); 'too-large' → 413. */
    readonly kind: 'malformed' | 'failed' | 'too-large',
  ) {
    super(message);
  }
}

interface Operation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string, what: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`${what} ${JSON.stringify(pointer)} is not a JSON pointer (must start with "/")`, 'malformed');
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function parseJsonPatch(document: unknown): Operation[] {
  if (!Array.isArray(document)) throw new JsonPatchError('a JSON patch must be a list of operations', 'malformed');
  if (document.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new JsonPatchError(`The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${document.length}`, 'too-large');
  }
  return document.map((entry, index) => {
    if (!isPlainObject(entry)) throw new JsonPatchError(`operation ${index} must be an object`, 'malformed');
    const { op, path } = entry;
    if (typeof op !== 'string' || !['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(op)) throw new JsonPatchError(`operation ${index}: unsupported op ${JSON.stringify(op)}`, 'malformed');
    if (typeof path !== 'string') throw new JsonPatchError(`operation ${index} (${op}): "path" is required`, 'malformed');
    parsePointer(path, 'path');
    if ((op === 'add' || op === 'replace' || op === 'test') && !('value' in entry)) throw new JsonPatchError(`operation ${index} (${op} ${path}): "value" is required`, 'malformed');
    if ((op === 'move' || op === 'copy') && typeof entry.from !== 'string') throw new JsonPatchError(`operation ${index} (${op} ${path}): "from" is required`, 'malformed');
    return entry as unknown as Operation;
  });
}

type Container = Record<string, unknown> | unknown[];

function resolveParent(root: unknown, tokens: string[], path: string): { parent: Container; last: string } {
  let node: unknown = root;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length - 1, path)];
    else if (isPlainObject(node) && Object.prototype.hasOwnProperty.call(node, token)) node = node[token];
    else throw new JsonPatchError(`path ${path} does not exist`, 'failed');
  }
  if (!Array.isArray(node) && !isPlainObject(node)) throw new JsonPatchError(`path ${path} does not exist`, 'failed');
  return { parent: node, last: tokens[tokens.length - 1] };
}

function arrayIndex(token: string, max: number, path: string): number {
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new JsonPatchError(`path ${path}: ${JSON.stringify(token)} is not an array index`, 'failed');
  const index = Number(token);
  if (index > max) throw new JsonPatchError(`path ${path}: index ${index} is out of range`, 'failed');
  return index;
}

function getValue(root: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer, 'path');
  if (tokens.length === 0) return root;
  const { parent, last } = resolveParent(root, tokens, pointer);
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length - 1, pointer)];
  if (!Object.prototype.hasOwnProperty.call(parent, last)) throw new JsonPatchError(`path ${pointer} does not exist`, 'failed');
  return parent[last];
}

function pathExists(root: unknown, pointer: string): boolean {
  try {
    getValue(root, pointer);
    return true;
  } catch {
    return false;
  }
}

function remove(root: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer, 'path');
  if (tokens.length === 0) throw new JsonPatchError('cannot remove the whole document', 'failed');
  const { parent, last } = resolveParent(root, tokens, pointer);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(last, parent.length - 1, pointer), 1)[0];
  if (!Object.prototype.hasOwnProperty.call(parent, last)) throw new JsonPatchError(`path ${pointer} does not exist`, 'failed');
  const value = parent[last];
  delete parent[last];
  return value;
}

function add(root: unknown, pointer: string, value: unknown, replaceOnly: boolean): unknown {
  const tokens = parsePointer(pointer, 'path');
  if (tokens.length === 0) return value;
  const { parent, last } = resolveParent(root, tokens, pointer);
  if (Array.isArray(parent)) {
    if (replaceOnly) parent[arrayIndex(last, parent.length - 1, pointer)] = value;
    else if (last === '-') parent.push(value);
    else parent.splice(arrayIndex(last, parent.length, pointer), 0, value);
  } else {
    if (replaceOnly && !Object.prototype.hasOwnProperty.call(parent, last)) throw new JsonPatchError(`path ${pointer} does not exist`, 'failed');
    setOwn(parent, last, value);
  }
  return root;
}

/**
 * Applies the operations to a copy of the document and returns it. `copy` is the one operation that can
 * grow a document beyond what the patch itself carries (30 copies of a field doubling it exhaust any
 * heap), so the bytes it duplicates are counted before each copy is made, as Kubernetes' json-patch
 * AccumulatedCopySizeLimit does.
 */
export function applyJsonPatch(document: unknown, patch: unknown): unknown {
  let root = cloneJson(document);
  let copiedBytes = 0;
  for (const operation of parseJsonPatch(patch)) {
    switch (operation.op) {
      case 'add':
        root = add(root, operation.path, cloneJson(operation.value), false);
        break;
      case 'replace':
        root = add(root, operation.path, cloneJson(operation.value), true);
        break;
      case 'remove':
        remove(root, operation.path);
        break;
      case 'move': {
        if (operation.path.startsWith(operation.from! + '/')) throw new JsonPatchError(`cannot move ${operation.from} into its own child ${operation.path}`, 'failed');
        const value = remove(root, operation.from!);
        root = add(root, operation.path, value, false);
        break;
      }
      case 'copy': {
        const value = getValue(root, operation.from!);
        copiedBytes += jsonBytesUpTo(value, MAX_JSON_PATCH_COPY_BYTES - copiedBytes);
        if (copiedBytes > MAX_JSON_PATCH_COPY_BYTES) throw new JsonPatchError(`the patch's copy operations would copy more than ${MAX_JSON_PATCH_COPY_BYTES} bytes`, 'too-large');
        root = add(root, operation.path, cloneJson(value), false);
        break;
      }
      case 'test': {
        // As Kubernetes' json-patch does: testing a missing path against null succeeds (absent == null), which
        // is how clients assert that a field (e.g. metadata.finalizers) is not there yet.
        const missingIsNull = operation.value === null && !pathExists(root, operation.path);
        if (!missingIsNull && !jsonEqual(getValue(root, operation.path), operation.value)) throw new JsonPatchError(`test operation failed: ${operation.path} is not ${JSON.stringify(operation.value)}`, 'failed');
        break;
      }
    }
  }
  return root;
}
