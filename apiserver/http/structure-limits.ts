// Bounds on the shape of a decoded request body, checked without recursion so no input can overflow the
// stack: nesting depth (before JSON is parsed, and again on the decoded value), `__proto__` keys, and the
// size the value would have once written out (YAML aliases can make a small body expand enormously).
import { ApiError, badRequest, requestEntityTooLarge } from '../errors.ts';
import { MAX_OBJECT_FIELDS } from '../limits.ts';

/** Deeper documents are refused before any recursive code walks them. */
export const MAX_DEPTH = 100;
/** The most a decoded body may expand to (YAML aliases, deep copies), measured as JSON bytes. */
export const MAX_DECODED_BYTES = 6 * 1024 * 1024;

const OPEN_BRACKET = 0x5b; // [
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACKET = 0x5d; // ]
const CLOSE_BRACE = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

const COMMA = 0x2c; // ,

export function tooDeep(): Error {
  return badRequest(`the request body is nested more than ${MAX_DEPTH} levels deep`);
}

export function tooManyFields(): Error {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: the request body has more than ${MAX_OBJECT_FIELDS} fields`);
}

/**
 * Refuses JSON text nested deeper than MAX_DEPTH, or with more than MAX_OBJECT_FIELDS fields, in one linear
 * pass over it, so JSON.parse never builds (and nothing ever walks) such a value. Strings are skipped;
 * malformed text is left for JSON.parse to report.
 */
export function checkJsonText(text: string): void {
  let depth = 0;
  let fields = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === BACKSLASH) index++;
      else if (char === QUOTE) inString = false;
    } else if (char === QUOTE) inString = true;
    else if (char === OPEN_BRACKET || char === OPEN_BRACE) {
      if (++depth > MAX_DEPTH + 1) throw tooDeep();
      if (++fields > MAX_OBJECT_FIELDS) throw tooManyFields();
    } else if (char === CLOSE_BRACKET || char === CLOSE_BRACE) depth--;
    else if (char === COMMA && ++fields > MAX_OBJECT_FIELDS) throw tooManyFields();
  }
}

/**
 * Checks a decoded value: depth (the root's children are level 1), no `__proto__` keys (they would
 * reach prototypes in code that assigns by key), and its size as JSON within MAX_DECODED_BYTES — shared
 * subtrees (YAML aliases) are counted every time they appear, as they would be when stored.
 */
export function checkDecodedValue(value: unknown): void {
  // Two parallel stacks instead of [node, depth] pairs: this runs over every node of every body.
  const nodes: unknown[] = [value];
  const depths: number[] = [0];
  let bytes = 0;
  let fields = 0;
  while (nodes.length > 0) {
    if (++fields > MAX_OBJECT_FIELDS + 1) throw tooManyFields();
    const node = nodes.pop();
    const depth = depths.pop()!;
    if (typeof node === 'string') bytes += node.length + 2;
    else if (typeof node !== 'object' || node === null) bytes += 8;
    else {
      if (depth > MAX_DEPTH) throw tooDeep();
      bytes += 2;
      if (Array.isArray(node)) {
        for (let index = 0; index < node.length; index++) {
          nodes.push(node[index]);
          depths.push(depth + 1);
        }
      } else {
        const record = node as Record<string, unknown>;
        for (const key of Object.keys(record)) {
          if (key === '__proto__') throw badRequest('field name "__proto__" is not allowed');
          bytes += key.length + 4;
          nodes.push(record[key]);
          depths.push(depth + 1);
        }
      }
    }
    if (bytes > MAX_DECODED_BYTES) throw requestEntityTooLarge(MAX_DECODED_BYTES, 'the decoded request body');
  }
}
