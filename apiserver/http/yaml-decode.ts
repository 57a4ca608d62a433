// YAML request bodies, decoded in steps that each stay linear and bounded (the `yaml` package's composer
// recurses once per nesting level, and a few thousand levels crash the whole process; its own duplicate
// key check is quadratic — 60,000 keys took 42 s):
//   1. the concrete syntax tree (the package's parser keeps an explicit stack: no recursion), fed one token
//      at a time so a bomb is refused at the token that makes it one — a second document, the parser's
//      stack past any legal depth, more entries than any legal body — not after the whole body: the parser
//      costs 1–3 µs per token, and a 3 MB body of 350,000 documents or 1.5M nested `- ` took 9–12 s;
//   2. its nesting depth, measured iteratively and refused beyond MAX_DEPTH before anything recurses;
//   3. composition with uniqueKeys off, then duplicate and non-scalar keys found with one Set per mapping;
//   4. plain values (aliases bounded by maxAliasCount), checked like any decoded body.
// Even linear, the parser costs about a microsecond per byte, so large YAML bodies are decoded on a
// worker thread (yaml-worker-pool.ts) and only small ones here.
import { Composer, isScalar, Lexer, Parser, visit, type CST, type Document } from 'yaml';
import { badRequest } from '../errors.ts';
import { MAX_OBJECT_FIELDS } from '../limits.ts';
import { checkDecodedValue, MAX_DEPTH, tooDeep, tooManyFields } from './structure-limits.ts';

/**
 * The parser's stack holds the document, each open collection (one per nesting level) and the token being
 * read, so a legal body never comes near twice MAX_DEPTH; the exact depth is measured after parsing.
 */
const MAX_PARSER_STACK = 2 * (MAX_DEPTH + 2);
/**
 * A collection's entries in the CST are at most twice the values they decode to (a flow collection's
 * trailing comma adds an empty one; a `<<` merge of an empty map adds one), so more than this many can never
 * pass checkDecodedValue's MAX_OBJECT_FIELDS.
 */
const MAX_CST_ENTRIES = 2 * (MAX_OBJECT_FIELDS + 1);
/** Tokens between counts of the open collections' entries (the count walks the stack). */
const ENTRY_COUNT_EVERY = 4096;

function notOneDocument(): Error {
  return badRequest('the request body must hold exactly one YAML document');
}

/** Entries of the collections still open on the parser's stack: a lower bound on the body's entries so far. */
function openEntries(stack: readonly CST.Token[]): number {
  let entries = 0;
  for (const token of stack) if ('items' in token && Array.isArray(token.items)) entries += token.items.length;
  return entries;
}

/** The body's CST, refused as soon as it holds a second document, nests too deep or has too many entries. */
function parseCst(text: string): CST.Token[] {
  const parser = new Parser();
  const tokens: CST.Token[] = [];
  let documents = 0;
  const keep = (produced: Iterable<CST.Token>) => {
    for (const token of produced) {
      if (token.type === 'document' && ++documents > 1) throw notOneDocument();
      tokens.push(token);
    }
  };
  let read = 0;
  for (const lexeme of new Lexer().lex(text)) {
    keep(parser.next(lexeme));
    if (parser.stack.length > MAX_PARSER_STACK) throw tooDeep();
    if (++read % ENTRY_COUNT_EVERY === 0 && openEntries(parser.stack) > MAX_CST_ENTRIES) throw tooManyFields();
  }
  keep(parser.end());
  return tokens;
}

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
  const tokens = parseCst(text);
  if (cstDepth(tokens) > MAX_DEPTH + 1) throw tooDeep();
  let documents: Document.Parsed[];
  try {
    documents = [...new Composer({ uniqueKeys: false }).compose(tokens)] as Document.Parsed[];
  } catch (error) {
    throw badRequest(`the request body is not valid YAML: ${(error as Error).message}`);
  }
  if (documents.length !== 1) throw notOneDocument();
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
