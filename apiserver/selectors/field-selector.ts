// Field selectors: `metadata.name=x`, `metadata.namespace!=y`, plus the fields a kind declares selectable
// (CRD selectableFields). Anything else is a 400, as in Kubernetes.
import { badRequest } from '../errors.ts';
import type { KubeObject } from '../../apis/meta/types.ts';

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

export function parseFieldSelector(selector: string | undefined, selectable: string[]): ParsedFieldSelector {
  if (!selector || !selector.trim()) return { matches: () => true };
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...selectable]);
  const terms = selector.split(',').map((raw) => {
    const match = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw);
    if (!match) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
    const [, field, op, value] = match;
    if (!allowed.has(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, negate: op === '!=', value };
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
