// Bounds on label and field selectors. A selector is parsed once per list or watch, but each of its terms
// is then checked against every object the request reads, so both its length and its term count are capped.
// The server's request-target limit (8 KiB, apiserver/http/request-info.ts) already bounds a selector that
// arrives in a URL; the length cap says so explicitly, and holds for selectors that reach the parsers any
// other way.
import { badRequest, type ApiError } from '../errors.ts';

/** Longest selector accepted, in characters. */
export const MAX_SELECTOR_LENGTH = 8 * 1024;
/** Most comma-separated terms (requirements) one selector may have. Kubernetes' own lists use a handful. */
export const MAX_SELECTOR_TERMS = 100;

export type SelectorKind = 'labelSelector' | 'fieldSelector';

/** A 400 when the selector is longer than MAX_SELECTOR_LENGTH (checked before anything else is done with it). */
export function checkSelectorLength(kind: SelectorKind, selector: string): void {
  if (selector.length > MAX_SELECTOR_LENGTH) throw tooLarge(kind, `is ${selector.length} characters long, more than the ${MAX_SELECTOR_LENGTH} allowed`);
}

/** A 400 when the selector has more than MAX_SELECTOR_TERMS terms. */
export function checkSelectorTerms(kind: SelectorKind, terms: number): void {
  if (terms > MAX_SELECTOR_TERMS) throw tooLarge(kind, `has ${terms} terms, more than the ${MAX_SELECTOR_TERMS} allowed`);
}

function tooLarge(kind: SelectorKind, detail: string): ApiError {
  return badRequest(`invalid ${kind}: the selector ${detail}`);
}
