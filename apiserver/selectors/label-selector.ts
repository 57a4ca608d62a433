// Kubernetes label selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`,
// `a>5`, `a<5`, joined by commas (all must hold).
// Parsing is linear in the selector's length: requirements are split by one scan, and each pattern below
// is anchored with no nested or adjacent overlapping quantifiers. Size limits: ./limits.ts.
import { isLabelValue, validateQualifiedName } from '../admission/metadata.ts';
import { badRequest } from '../errors.ts';
import { checkSelectorLength, checkSelectorTerms } from './limits.ts';

type Requirement =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'in' | 'notin'; values: Set<string> }
  | { key: string; op: 'gt' | 'lt'; value: number };

export type LabelSelector = (labels: Record<string, string> | undefined) => boolean;

function checkKey(key: string, selector: string): string {
  if (validateQualifiedName(key).length > 0) throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${selector}"`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!isLabelValue(value)) throw badRequest(`unable to parse requirement: invalid label value "${value}" in selector "${selector}"`);
  return value;
}

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === ',' && depth === 0) {
      parts.push(text.slice(start, index));
      start = index + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

export function parseLabelSelector(selector: string | undefined): LabelSelector {
  if (!selector || !selector.trim()) return () => true;
  checkSelectorLength('labelSelector', selector);
  const parts = splitTopLevel(selector);
  checkSelectorTerms('labelSelector', parts.length);
  const requirements: Requirement[] = parts.map((raw) => parseRequirement(raw.trim(), selector));
  return (labels) => requirements.every((requirement) => matches(requirement, labels ?? {}));
}

function parseRequirement(text: string, selector: string): Requirement {
  if (!text) throw badRequest(`unable to parse requirement: found '', expected: identifier in selector "${selector}"`);
  let match = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(text);
  if (match) {
    const values = new Set(match[3].split(',').map((value) => checkValue(value.trim(), selector)));
    return { key: checkKey(match[1], selector), op: match[2] as 'in' | 'notin', values };
  }
  match = /^([^=!<>\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(text);
  if (match) {
    const key = checkKey(match[1], selector);
    const value = checkValue(match[3], selector);
    return { key, op: match[2] === '!=' ? 'notin' : 'in', values: new Set([value]) };
  }
  match = /^([^=!<>\s]+)\s*([<>])\s*(-?\d+)$/.exec(text);
  if (match) return { key: checkKey(match[1], selector), op: match[2] === '>' ? 'gt' : 'lt', value: Number(match[3]) };
  match = /^!\s*([^=!<>\s]+)$/.exec(text);
  if (match) return { key: checkKey(match[1], selector), op: 'notexists' };
  if (/^[^=!<>\s()]+$/.test(text)) return { key: checkKey(text, selector), op: 'exists' };
  throw badRequest(`unable to parse requirement: "${text}" in selector "${selector}"`);
}

function matches(requirement: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.op) {
    case 'exists':
      return has;
    case 'notexists':
      return !has;
    case 'in':
      return has && requirement.values.has(value);
    case 'notin':
      return !has || !requirement.values.has(value);
    case 'gt':
      return has && /^-?\d+$/.test(value) && Number(value) > requirement.value;
    case 'lt':
      return has && /^-?\d+$/.test(value) && Number(value) < requirement.value;
  }
}
