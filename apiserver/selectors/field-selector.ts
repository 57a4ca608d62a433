// Field selectors: `metadata.name=x`, `metadata.namespace!=y`, plus the fields a kind declares selectable
// (CRD selectableFields). Anything else is a 400, as in Kubernetes.
// Terms are scanned by hand, in time linear in their length: the regular expression this replaces
// backtracked quadratically (`a=x` + 16 KB of spaces + `)` took 290 ms). Size limits: ./limits.ts.
import { badRequest } from '../errors.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { checkSelectorLength, checkSelectorTerms } from './limits.ts';

export type FieldSelector = (object: KubeObject) => boolean;

export interface ParsedFieldSelector {
  matches: FieldSelector;
  /** metadata.name=x when present: lets a list read one key instead of scanning. */
  exactName?: string;
  exactNamespace?: string;
}

/** Reads a dotted path (`spec.nodeName`) from an object; non-scalars do not match. */
export function readField(object: unknown, path: string): string | undefined {
  let value: unknown = object;
  for (const segment of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

interface Term {
  field: string;
  negate: boolean;
  value: string;
}

// '==' is tried before '=', so `a==b` means a equals "b", not "=b".
const OPERATORS = ['==', '!=', '='] as const;
const WHITESPACE = /\s/;
const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;

/** Index of the first character that ends a field name: `=`, `!` or whitespace. */
function fieldNameEnd(text: string): number {
  let end = 0;
  while (end < text.length && text[end] !== '=' && text[end] !== '!' && !WHITESPACE.test(text[end])) end++;
  return end;
}

/**
 * `field op value`, with whitespace allowed around each part; returns undefined when the term is not of
 * that form. The value is the rest of the term and may not span lines.
 */
function scanTerm(raw: string): Term | undefined {
  const text = raw.trim();
  const end = fieldNameEnd(text);
  const field = text.slice(0, end);
  const rest = text.slice(end).trimStart();
  const op = OPERATORS.find((candidate) => rest.startsWith(candidate));
  if (!field || !op) return undefined;
  const value = rest.slice(op.length).trimStart();
  if (LINE_TERMINATOR.test(value)) return undefined;
  return { field, negate: op === '!=', value };
}

export function parseFieldSelector(selector: string | undefined, selectable: string[]): ParsedFieldSelector {
  if (!selector || !selector.trim()) return { matches: () => true };
  checkSelectorLength('fieldSelector', selector);
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...selectable]);
  const rawTerms = selector.split(',');
  checkSelectorTerms('fieldSelector', rawTerms.length);
  const terms = rawTerms.map((raw) => {
    const term = scanTerm(raw);
    if (!term) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
    if (!allowed.has(term.field)) throw badRequest(`field label not supported: ${term.field}`);
    return term;
  });
  const result: ParsedFieldSelector = {
    matches: (object) =>
      terms.every(({ field, negate, value }) => {
        const actual = readField(object, field) ?? '';
        return negate ? actual !== value : actual === value;
      }),
  };
  for (const term of terms) {
    if (term.negate) continue;
    if (term.field === 'metadata.name') result.exactName = term.value;
    if (term.field === 'metadata.namespace') result.exactNamespace = term.value;
  }
  return result;
}
