// YAML request bodies, decoded in steps that each stay linear and bounded (the `yaml` package's composer
// recurses once per nesting level, and a few thousand levels crash the whole process; its own duplicate
// key check is quadratic — 60,000 keys took 42 s):
//   1. the concrete syntax tree (the package's parser keeps an explicit stack: no recursion);
//   2. its nesting depth, measured iteratively and refused beyond MAX_DEPTH before anything recurses;
//   3. composition with uniqueKeys off, then duplicate and non-scalar keys found with one Set per mapping;
//   4. plain values (aliases bounded by maxAliasCount), checked like any decoded body.
// Even linear, the parser costs about a microsecond per byte, so large YAML bodies are decoded on a
// worker thread (yaml-worker-pool.ts) and only small ones here.
import { Composer, isScalar, Parser, visit, type CST, type Document } from 'yaml';
import { badRequest } from '../errors.ts';
import { checkDecodedValue, MAX_DEPTH } from './structure-limits.ts';

/** Nesting depth of a CST, without recursion (collection items count one level below their collection). */
function cstDepth(tokens: CST.Token[]): number {
  let deepest = 0;
  const stack: Array<[CST.Token | undefined, number]> = tokens.map((token) => [token, 0]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (!token) continue;
    if (depth > deepest) deepest = depth;
    if (depth > MAX_DEPTH + 1) return depth;
    if (token.type === 'document') stack.push([token.value, depth]);
    else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      for (const item of token.items) {
        if ('key' in item && item.key) stack.push([item.key, depth + 1]);
        if (item.value) stack.push([item.value, depth + 1]);
      }
    }
  }
  return deepest;
}

/** Duplicate keys, and keys that are collections (JSON objects only have string keys). */
function checkKeys(document: Document.Parsed): void {
  visit(document, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = pair.key;
        if (key !== null && !isScalar(key)) throw badRequest('the request body is not valid YAML: mapping keys must be scalars');
        const name = String(isScalar(key) ? key.value : key);
        if (seen.has(name)) throw badRequest(`the request body is not valid YAML: duplicate key ${JSON.stringify(name.slice(0, 256))}`);
        seen.add(name);
      }
    },
  });
}

/** Decodes one YAML document into a plain value, or throws a 400 naming the problem. */
export function decodeYamlText(text: string): unknown {
  const tokens = [...new Parser().parse(text)];
  if (cstDepth(tokens) > MAX_DEPTH + 1) throw badRequest(`the request body is nested more than ${MAX_DEPTH} levels deep`);
  let documents: Document.Parsed[];
  try {
    documents = [...new Composer({ uniqueKeys: false }).compose(tokens)] as Document.Parsed[];
  } catch (error) {
    throw badRequest(`the request body is not valid YAML: ${(error as Error).message}`);
  }
  if (documents.length !== 1) throw badRequest('the request body must hold exactly one YAML document');
  const [document] = documents;
  if (document.errors.length > 0) throw badRequest(`the request body is not valid YAML: ${document.errors[0].message}`);
  checkKeys(document);
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw badRequest(`the request body is not valid YAML: ${(error as Error).message}`);
  }
  checkDecodedValue(value);
  return value;
}
