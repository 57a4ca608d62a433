// The JSONPath subset printer columns use: `.a.b`, `.a[0]`, `.a[*]`, and `.a[?(@.k=="v")].b` filters.
// Compiled once per column; evaluation returns every match in document order.
import { pushAll } from '../collections.ts';

type Step = { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'all' } | { kind: 'filter'; path: string[]; op: '==' | '!='; value: string | number | boolean };

export class JsonPathError extends Error {}

export function compileJsonPath(expression: string): (value: unknown) => unknown[] {
  const steps = parse(expression.trim().replace(/^\{(.*)\}$/, '$1').replace(/^\$/, ''));
  return (value) => evaluate(steps, [value]);
}

function parse(source: string): Step[] {
  const steps: Step[] = [];
  let position = 0;
  while (position < source.length) {
    const char = source[position];
    if (char === '.') {
      const match = /^\.([A-Za-z0-9_\-$]+)/.exec(source.slice(position));
      if (!match) throw new JsonPathError(`invalid JSONPath ${JSON.stringify(source)} at ${position}`);
      steps.push({ kind: 'field', name: match[1] });
      position += match[0].length;
    } else if (char === '[') {
      const end = findClosingBracket(source, position);
      const inner = source.slice(position + 1, end).trim();
      position = end + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else steps.push(parseFilter(inner, source));
    } else {
      throw new JsonPathError(`invalid JSONPath ${JSON.stringify(source)} at ${position}`);
    }
  }
  return steps;
}

function findClosingBracket(source: string, open: number): number {
  let quote: string | undefined;
  for (let index = open + 1; index < source.length; index++) {
    const char = source[index];
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === ']') return index;
  }
  throw new JsonPathError(`unclosed [ in JSONPath ${JSON.stringify(source)}`);
}

function parseFilter(inner: string, source: string): Step {
  const match = /^\?\(\s*@((?:\.[A-Za-z0-9_\-$]+)+)\s*(==|!=)\s*(.+?)\s*\)$/.exec(inner);
  if (!match) throw new JsonPathError(`unsupported JSONPath filter [${inner}] in ${JSON.stringify(source)}`);
  const raw = match[3];
  let value: string | number | boolean;
  if (/^"[^"]*"$|^'[^']*'$/.test(raw)) value = raw.slice(1, -1);
  else if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (/^-?\d+(\.\d+)?$/.test(raw)) value = Number(raw);
  else throw new JsonPathError(`unsupported filter value ${raw} in ${JSON.stringify(source)}`);
  return { kind: 'filter', path: match[1].slice(1).split('.'), op: match[2] as '==' | '!=', value };
}

function evaluate(steps: Step[], current: unknown[]): unknown[] {
  let nodes = current;
  for (const step of steps) {
    const next: unknown[] = [];
    for (const node of nodes) {
      if (node === null || typeof node !== 'object') continue;
      switch (step.kind) {
        case 'field':
          if (!Array.isArray(node) && Object.prototype.hasOwnProperty.call(node, step.name)) next.push((node as Record<string, unknown>)[step.name]);
          break;
        case 'index':
          if (Array.isArray(node) && step.index < node.length) next.push(node[step.index]);
          break;
        case 'all':
          pushAll(next, Array.isArray(node) ? node : Object.values(node));
          break;
        case 'filter':
          for (const item of Array.isArray(node) ? node : Object.values(node)) {
            let probe: unknown = item;
            for (const name of step.path) probe = probe !== null && typeof probe === 'object' && Object.prototype.hasOwnProperty.call(probe, name) ? (probe as Record<string, unknown>)[name] : undefined;
            const equal = probe === step.value;
            if (step.op === '==' ? equal : !equal && probe !== undefined) next.push(item);
          }
          break;
      }
    }
    nodes = next;
  }
  return nodes;
}
