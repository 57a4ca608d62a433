// Field paths and field sets in the shape Kubernetes' structured-merge-diff gives them, and their FieldsV1
// wire form (metadata.managedFields[].fieldsV1).
//
// A path element is kept in its serialized FieldsV1 form, which is canonical, so two elements are equal
// exactly when their strings are:
//   f:<name>          a field of a struct or a key of a map
//   k:{"a":1,"b":"x"} the item of a list-type=map list whose key fields have these values (keys sorted)
//   v:<json>          the item of a list-type=set list with this value
//   i:<n>             the n-th item of a list (read for compatibility; CRD lists never produce it)
// A FieldSet is a trie of path elements. Each level holds its members (paths that are in the set) and its
// children (subtrees); a path can be both, which FieldsV1 writes as a `".": {}` key inside the child.
import { pushAll } from '../collections.ts';

export type PathElement = string;
export type FieldPath = readonly PathElement[];

export function fieldElement(name: string): PathElement {
  return `f:${name}`;
}

/** `k:{…}` for a list-type=map item: the key fields sorted by name, values in Go's JSON encoding. */
export function keyElement(fields: ReadonlyArray<readonly [string, unknown]>): PathElement {
  const sorted = [...fields].sort(([a], [b]) => compareCodePoints(a, b));
  return `k:{${sorted.map(([name, value]) => `${goJSON(name)}:${goJSON(value)}`).join(',')}}`;
}

export function valueElement(value: unknown): PathElement {
  return `v:${goJSON(value)}`;
}

export function indexElement(index: number): PathElement {
  return `i:${index}`;
}

/** Parses a FieldsV1 key into its canonical element, or undefined for a key of an unknown kind. */
export function parseElement(key: string): PathElement | undefined {
  if (key.length < 2 || key[1] !== ':') return undefined;
  if (key[0] === 'f') return key;
  // Key and value elements are JSON to parse and write back canonically; the same few recur in every object
  // of a kind (`k:{"type":"Ready"}`), so their canonical forms are remembered (bounded: keys come from clients).
  const known = canonicalElements.get(key);
  if (known !== undefined) return known;
  const element = parseElementUncached(key);
  if (element !== undefined && key.length <= 256) {
    if (canonicalElements.size >= CANONICAL_ELEMENT_CACHE_SIZE) canonicalElements.clear();
    canonicalElements.set(key, element);
  }
  return element;
}

const canonicalElements = new Map<string, PathElement>();
const CANONICAL_ELEMENT_CACHE_SIZE = 10_000;

function parseElementUncached(key: string): PathElement | undefined {
  const body = key.slice(2);
  switch (key[0]) {
    case 'v':
      return valueElement(JSON.parse(body));
    case 'k': {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`invalid key element ${key}`);
      return keyElement(Object.entries(parsed));
    }
    case 'i': {
      if (!/^(0|[1-9][0-9]*)$/.test(body)) throw new Error(`invalid index element ${key}`);
      return key;
    }
    default:
      return undefined;
  }
}

/** Renders one element the way structured-merge-diff prints paths: `.name`, `[name="eth0"]`, `[="x"]`, `[0]`. */
export function renderElement(element: PathElement): string {
  const body = element.slice(2);
  switch (element[0]) {
    case 'f':
      return `.${body}`;
    case 'k': {
      const fields = Object.entries(JSON.parse(body) as Record<string, unknown>);
      return `[${fields.map(([name, value]) => `${name}=${renderValue(value)}`).join(',')}]`;
    }
    case 'v':
      return `[=${renderValue(JSON.parse(body))}]`;
    default:
      return `[${body}]`;
  }
}

/** A path in Kubernetes' printed form, as conflict messages carry it: `.spec.disks[name="root"].size`. */
export function renderPath(path: FieldPath): string {
  return path.map(renderElement).join('');
}

// value.ToString from structured-merge-diff: strings Go-quoted, other scalars bare, lists bracketed.
function renderValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return goQuote(value);
  if (Array.isArray(value)) return `[${value.map(renderValue).join(',')}]`;
  if (typeof value === 'object') {
    return Object.keys(value).sort(compareCodePoints).map((key) => `${key}=${renderValue((value as Record<string, unknown>)[key])}`).join('');
  }
  return String(value);
}

/** Go's %q for a string (strconv.Quote): printable characters kept, the rest escaped. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    switch (char) {
      case '"': out += '\\"'; break;
      case '\\': out += '\\\\'; break;
      case '\x07': out += '\\a'; break;
      case '\b': out += '\\b'; break;
      case '\f': out += '\\f'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      case '\v': out += '\\v'; break;
      default:
        if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
        else if (code >= 0xd800 && code <= 0xdfff) out += '\\ufffd';
        else out += char;
    }
  }
  return `${out}"`;
}

/** JSON the way Go's encoding/json writes it: compact, map keys sorted, <>& and U+2028/9 escaped. */
export function goJSON(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return goJSONString(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map(goJSON).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).filter((key) => record[key] !== undefined).sort(compareCodePoints);
    return `{${keys.map((key) => `${goJSONString(key)}:${goJSON(record[key])}`).join(',')}}`;
  }
  return 'null';
}

function goJSONString(text: string): string {
  let out = '"';
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    const char = text[index];
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (char === '\b') out += '\\b';
    else if (char === '\f') out += '\\f';
    else if (unit < 0x20 || char === '<' || char === '>' || char === '&' || unit === 0x2028 || unit === 0x2029) {
      out += `\\u${unit.toString(16).padStart(4, '0')}`;
    } else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length && isLowSurrogate(text.charCodeAt(index + 1))) {
      out += text.slice(index, index + 2);
      index++;
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      out += '\\ufffd';
    } else {
      out += char;
    }
  }
  return `${out}"`;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Byte order of the UTF-8 encodings (= code point order), as Go sorts strings. */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = a.codePointAt(index)!;
    const y = b.codePointAt(index)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) index++;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const KIND_RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

/** structured-merge-diff's element order: fields, then keys, then values, then indexes. */
export function compareElements(a: PathElement, b: PathElement): number {
  const rank = (KIND_RANK[a[0]] ?? 4) - (KIND_RANK[b[0]] ?? 4);
  if (rank !== 0) return rank;
  if (a[0] === 'i') return Number(a.slice(2)) - Number(b.slice(2));
  return compareCodePoints(a, b);
}

export class FieldSet {
  readonly members = new Set<PathElement>();
  readonly children = new Map<PathElement, FieldSet>();

  static of(...paths: FieldPath[]): FieldSet {
    const set = new FieldSet();
    for (const path of paths) set.insert(path);
    return set;
  }

  insert(path: FieldPath): void {
    if (path.length === 0) return;
    let node: FieldSet = this;
    for (let index = 0; index < path.length - 1; index++) node = node.descend(path[index]);
    node.members.add(path[path.length - 1]);
  }

  has(path: FieldPath): boolean {
    if (path.length === 0) return false;
    let node: FieldSet | undefined = this;
    for (let index = 0; index < path.length - 1 && node; index++) node = node.children.get(path[index]);
    return node?.members.has(path[path.length - 1]) ?? false;
  }

  /** The subtree below one element (paths relative to it), or undefined when there is none. */
  child(element: PathElement): FieldSet | undefined {
    return this.children.get(element);
  }

  descend(element: PathElement): FieldSet {
    let child = this.children.get(element);
    if (!child) {
      child = new FieldSet();
      this.children.set(element, child);
    }
    return child;
  }

  isEmpty(): boolean {
    if (this.members.size > 0) return false;
    for (const child of this.children.values()) if (!child.isEmpty()) return false;
    return true;
  }

  clone(): FieldSet {
    const out = new FieldSet();
    for (const member of this.members) out.members.add(member);
    for (const [element, child] of this.children) out.children.set(element, child.clone());
    return out;
  }

  union(other: FieldSet): FieldSet {
    const out = this.clone();
    out.addAll(other);
    return out;
  }

  private addAll(other: FieldSet): void {
    for (const member of other.members) this.members.add(member);
    for (const [element, child] of other.children) this.descend(element).addAll(child);
  }

  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const member of this.members) if (other.members.has(member)) out.members.add(member);
    for (const [element, child] of this.children) {
      const theirs = other.children.get(element);
      if (!theirs) continue;
      const both = child.intersection(theirs);
      if (!both.isEmpty()) out.children.set(element, both);
    }
    return out;
  }

  /** Paths of this set that are not paths of `other` (path by path: a member of `other` keeps its subtree here). */
  difference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const member of this.members) if (!other.members.has(member)) out.members.add(member);
    for (const [element, child] of this.children) {
      const theirs = other.children.get(element);
      const rest = theirs ? child.difference(theirs) : child.clone();
      if (!rest.isEmpty()) out.children.set(element, rest);
    }
    return out;
  }

  /** Like difference, but a member of `other` also removes everything below it. */
  recursiveDifference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const member of this.members) if (!other.members.has(member)) out.members.add(member);
    for (const [element, child] of this.children) {
      if (other.members.has(element)) continue;
      const theirs = other.children.get(element);
      const rest = theirs ? child.recursiveDifference(theirs) : child.clone();
      if (!rest.isEmpty()) out.children.set(element, rest);
    }
    return out;
  }

  equals(other: FieldSet): boolean {
    return this.difference(other).isEmpty() && other.difference(this).isEmpty();
  }

  /** Every path, in structured-merge-diff's order: a level's members first, then its subtrees. */
  paths(prefix: PathElement[] = []): PathElement[][] {
    const out: PathElement[][] = [];
    for (const member of [...this.members].sort(compareElements)) out.push([...prefix, member]);
    for (const element of [...this.children.keys()].sort(compareElements)) {
      pushAll(out, this.children.get(element)!.paths([...prefix, element]));
    }
    return out;
  }

  /**
   * The FieldsV1 object. Keys are in byte order, which is how a custom resource's managedFields come back
   * from Kubernetes (they are map keys there), so `"."` comes first.
   */
  toFieldsV1(): Record<string, unknown> {
    return this.emit(false);
  }

  private emit(includeSelf: boolean): Record<string, unknown> {
    const entries = new Map<string, Record<string, unknown>>();
    for (const member of this.members) if (!this.children.has(member) || this.children.get(member)!.isEmpty()) entries.set(member, {});
    for (const [element, child] of this.children) {
      if (child.isEmpty()) continue;
      entries.set(element, child.emit(this.members.has(element)));
    }
    const keys = [...entries.keys()];
    if (includeSelf && keys.length > 0) keys.push('.');
    // Plain assignment is safe: every key is '.' or has a two-character kind prefix (see parseElement), so
    // none is "__proto__". (defineProperty per key made each object a slow dictionary: 4× the time here,
    // and again in every JSON.stringify of it.)
    const out: Record<string, unknown> = {};
    for (const key of keys.sort(compareCodePoints)) out[key] = key === '.' ? {} : entries.get(key);
    return out;
  }

  /** Reads a FieldsV1 object. Keys of unknown kinds are skipped (as Kubernetes does); malformed ones throw. */
  static fromFieldsV1(fields: unknown): FieldSet {
    if (!isRecord(fields)) throw new Error('fieldsV1 must be an object');
    return FieldSet.read(fields).children ?? new FieldSet();
  }

  private static read(node: Record<string, unknown>): { children?: FieldSet; isMember: boolean } {
    let children: FieldSet | undefined;
    let isMember = false;
    for (const [key, value] of Object.entries(node)) {
      if (key === '.') {
        isMember = true;
        continue;
      }
      const element = parseElement(key);
      if (element === undefined) continue;
      if (!isRecord(value)) throw new Error(`fieldsV1 entry ${JSON.stringify(key)} must be an object`);
      const below = FieldSet.read(value);
      children ??= new FieldSet();
      if (below.isMember) children.members.add(element);
      if (below.children && !below.children.isEmpty()) {
        // The subtree was built just now for this key: it is adopted, not copied (two keys may name the same
        // canonical element, e.g. a key's fields in another order: then they are merged).
        const existing = children.children.get(element);
        if (existing) existing.addAll(below.children);
        else children.children.set(element, below.children);
      }
    }
    if (!children) isMember = true;
    return { children, isMember };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
