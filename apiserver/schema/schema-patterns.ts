// CRD schema `pattern`s come from whoever writes the CRD and are matched against whatever clients send,
// so they must not be able to stall the server (regular-expression denial of service). V8's RegExp
// backtracks: `^(a+)+$` against 30 characters took 5.6 s. Kubernetes compiles patterns with Go's RE2;
// PhotonCloud does the same with re2js, a pure-JS port of RE2 whose matching time is linear in the input.
//
// Linear is not yet bounded: RE2's time is (input length) × (compiled program size) when its DFA gives up,
// and `.{1000}` repeated makes a 10,000-instruction program that took 200 s on a 1 MB value. So:
//   - at CRD create/update, a pattern must compile as RE2 (no backreferences or lookaround), be at most
//     MAX_PATTERN_LENGTH characters, compile to at most MAX_PATTERN_PROGRAM_SIZE instructions, and one
//     schema's distinct patterns to at most MAX_SCHEMA_PROGRAM_SIZE in all (this bounds compile time);
//   - each validation of an object has a matching budget, as Kubernetes gives CEL rules a per-request cost
//     budget: testing a value costs (its length + 1) × its pattern's program size, and a value whose test
//     would overrun what is left is not matched but reported (403-style Forbidden field error, so a 422).
// Measured on a loaded 2-core machine, spending a whole budget takes at most about 110 ms.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';
import { fieldPath } from './structural-schema.ts';

/** Longest pattern accepted, in characters (the longest of PhotonCloud's own CRDs is under 200). */
export const MAX_PATTERN_LENGTH = 1000;
/** Largest compiled pattern, in RE2 instructions (PhotonCloud's own: at most 155; `^.{0,1000}$`: 2004). */
export const MAX_PATTERN_PROGRAM_SIZE = 5000;
/** Largest sum of the program sizes of one schema's distinct patterns (compiling 20,000 takes ~100 ms). */
export const MAX_SCHEMA_PROGRAM_SIZE = 20_000;
/**
 * Matching one object may cost this much: Σ (value length + 1) × program size over the values tested. RE2's
 * slowest path (NFA, Unicode classes) measured ~44 ns per unit on a loaded 2-core machine: ~110 ms in all.
 * Ordinary values are far below it: a 20-character value against a 155-instruction pattern costs 3,255.
 */
export const PATTERN_MATCH_BUDGET = 2_500_000;

/** A pattern the server refuses to compile; the message says why. */
export class PatternError extends Error {}

export interface CompiledPattern {
  readonly source: string;
  readonly programSize: number;
  readonly re2: RE2JS;
}

// Compiled patterns, most recently used last: a CRD's patterns are compiled when it is checked and again
// when ajv compiles its schema, and re-installing a CRD recompiles them. Bounded so that no client can grow it.
const compiledPatterns = new Map<string, CompiledPattern>();
const COMPILED_PATTERN_CACHE_SIZE = 1000;

/** Compiles a schema pattern with RE2, refusing what RE2 cannot run or what is too large to run cheaply. */
export function compilePattern(source: string): CompiledPattern {
  const cached = compiledPatterns.get(source);
  if (cached) {
    compiledPatterns.delete(source);
    compiledPatterns.set(source, cached);
    return cached;
  }
  const compiled = compileUncached(source);
  compiledPatterns.set(source, compiled);
  if (compiledPatterns.size > COMPILED_PATTERN_CACHE_SIZE) compiledPatterns.delete(compiledPatterns.keys().next().value!);
  return compiled;
}

function compileUncached(source: string): CompiledPattern {
  if (source.length > MAX_PATTERN_LENGTH) throw new PatternError(`must be no more than ${MAX_PATTERN_LENGTH} characters (is ${source.length})`);
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(source);
  } catch (error) {
    // RE2JSSyntaxException: backreferences, lookaround, repeat counts over 1000, nesting too deep, …
    const reason = error instanceof Error ? error.message.replace(/^error parsing regexp: /, '') : String(error);
    throw new PatternError(`is not a valid RE2 regular expression (backreferences and lookaround are not supported): ${reason}`);
  }
  const programSize = re2.programSize();
  if (programSize > MAX_PATTERN_PROGRAM_SIZE) {
    throw new PatternError(`is too complex: it compiles to ${programSize} RE2 instructions, more than ${MAX_PATTERN_PROGRAM_SIZE}`);
  }
  return { source, programSize, re2 };
}

export interface PatternProblem {
  /** Path from the schema root, e.g. `properties.spec.properties.x.pattern`. */
  path: string;
  message: string;
}

// Keywords whose value is a schema, a list of schemas or a map of schemas: everything ajv would compile.
const SCHEMA_KEYWORDS = ['items', 'additionalItems', 'additionalProperties', 'not', 'contains', 'propertyNames', 'if', 'then', 'else'];
const SCHEMA_LIST_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'items', 'prefixItems'];
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', 'definitions', '$defs', 'dependencies', 'dependentSchemas'];

/** A schema met on the walk, with the way back to the root (its path is built only if it is reported). */
interface Visit {
  schema: unknown;
  parent?: Visit;
  /** Segments from the parent to this schema: ['properties', 'spec'], ['items'], ['anyOf', 1]. */
  segments: Array<string | number>;
}

/** Most problems reported for one schema; the rest are counted. */
const MAX_REPORTED_PROBLEMS = 10;

/**
 * Every pattern in a schema (the `pattern` keyword and `patternProperties` keys) that compilePattern
 * refuses, with its path (the first MAX_REPORTED_PROBLEMS, then a count); plus one problem when the
 * patterns together are too large. Iterative and linear in the schema's size, so a deeply nested schema
 * neither overflows the stack nor takes quadratic time.
 */
export function schemaPatternProblems(root: unknown): PatternProblem[] {
  const problems: PatternProblem[] = [];
  let unreported = 0;
  const seen = new Set<string>();
  let total = 0;
  const check = (source: string, visit: Visit, segments: Array<string | number>) => {
    if (seen.has(source)) return;
    seen.add(source);
    try {
      total += compilePattern(source).programSize;
    } catch (error) {
      if (!(error instanceof PatternError)) throw error;
      if (problems.length === MAX_REPORTED_PROBLEMS) unreported++;
      else problems.push({ path: fieldPath([...pathTo(visit), ...segments]), message: `Invalid value: ${JSON.stringify(truncate(source))}: ${error.message}` });
    }
  };
  const stack: Visit[] = [{ schema: root, segments: [] }];
  while (stack.length > 0 && total <= MAX_SCHEMA_PROGRAM_SIZE) {
    const visit = stack.pop()!;
    const { schema } = visit;
    if (!isObject(schema)) continue;
    if (typeof schema.pattern === 'string') check(schema.pattern, visit, ['pattern']);
    if (isObject(schema.patternProperties)) for (const key of Object.keys(schema.patternProperties)) check(key, visit, ['patternProperties', key]);
    for (const child of childSchemas(visit, schema)) stack.push(child);
  }
  if (unreported > 0) problems.push({ path: '', message: `Invalid value: and ${unreported} more patterns like these` });
  if (total > MAX_SCHEMA_PROGRAM_SIZE) {
    // Compiling stops here: the rest of the schema is not worth the time.
    problems.push({ path: '', message: `Forbidden: the schema's patterns compile to more than ${MAX_SCHEMA_PROGRAM_SIZE} RE2 instructions in all` });
  }
  return problems;
}

function pathTo(visit: Visit): Array<string | number> {
  const chain: Visit[] = [];
  for (let at: Visit | undefined = visit; at; at = at.parent) chain.push(at);
  return chain.reverse().flatMap((step) => step.segments);
}

function childSchemas(parent: Visit, schema: Record<string, unknown>): Visit[] {
  const children: Visit[] = [];
  for (const keyword of SCHEMA_KEYWORDS) {
    if (isObject(schema[keyword])) children.push({ schema: schema[keyword], parent, segments: [keyword] });
  }
  for (const keyword of SCHEMA_LIST_KEYWORDS) {
    const list = schema[keyword];
    if (Array.isArray(list)) list.forEach((child, index) => children.push({ schema: child, parent, segments: [keyword, index] }));
  }
  for (const keyword of SCHEMA_MAP_KEYWORDS) {
    const map = schema[keyword];
    if (isObject(map)) for (const [name, child] of Object.entries(map)) children.push({ schema: child, parent, segments: [keyword, name] });
  }
  return children;
}

// ---- matching ----

/** What matching one object has spent, and the values it could not afford to test. */
class PatternMeter {
  private remaining = PATTERN_MATCH_BUDGET;
  /** Pattern source → values that were tested and did not match (tested again for free). */
  private readonly mismatched = new Map<string, Set<string>>();
  /** Pattern source → values left untested because the budget would have run out. */
  private readonly skipped = new Map<string, Set<string>>();

  get exceeded(): boolean {
    return this.skipped.size > 0;
  }

  /**
   * A value is either tested, skipped or already known not to match. Remembering mismatches keeps a value
   * that occurs twice from being both (so its errors can be told apart) and makes repeats free.
   */
  test(pattern: CompiledPattern, value: string): boolean {
    if (this.mismatched.get(pattern.source)?.has(value)) return false;
    const cost = (value.length + 1) * pattern.programSize;
    if (cost > this.remaining) {
      addTo(this.skipped, pattern.source, value);
      return false;
    }
    this.remaining -= cost;
    const matches = pattern.re2.test(value);
    if (!matches) addTo(this.mismatched, pattern.source, value);
    return matches;
  }

  wasSkipped(source: unknown, value: unknown): boolean {
    return typeof source === 'string' && typeof value === 'string' && this.skipped.get(source)?.has(value) === true;
  }
}

function addTo(sets: Map<string, Set<string>>, key: string, value: string): void {
  let set = sets.get(key);
  if (!set) sets.set(key, (set = new Set()));
  set.add(value);
}

/** The meter of the validation running now (validation is synchronous, so there is at most one). */
let activeMeter: PatternMeter | undefined;

/** ajv's code.regExp: patterns in compiled validators run on RE2 and are charged to the active meter. */
export function re2RegExp(source: string): { test(value: string): boolean; toString(): string } {
  let pattern: CompiledPattern;
  try {
    pattern = compilePattern(source);
  } catch (error) {
    if (error instanceof PatternError) throw new PatternError(`pattern ${JSON.stringify(truncate(source))} ${error.message}`);
    throw error;
  }
  return {
    // Outside a metered validation (a validator called directly), each test gets a budget of its own.
    test: (value: string) => (activeMeter ?? new PatternMeter()).test(pattern, value),
    // ajv keys its compiled patterns by toString(): it must differ between patterns.
    toString: () => `re2:${source}`,
  };
}
/** ajv requires this for standalone code generation, which PhotonCloud does not use. */
re2RegExp.code = 're2js';

export const PATTERN_BUDGET_KEYWORD = 'patternBudget';

/** A validator whose `errors` are ajv's, except that values left unmatched by the budget are reported as such. */
export interface BudgetedValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/**
 * Runs a compiled validator with a fresh matching budget. A value the budget could not afford becomes a
 * `patternBudget` error at its path instead of a pattern mismatch, and a validation that skipped any test
 * fails even if ajv passed it (a skipped test under `not` or in patternProperties must not let it through).
 */
export function withPatternBudget(validate: ValidateFunction): BudgetedValidator {
  const budgeted: BudgetedValidator = (data) => {
    const meter = new PatternMeter();
    const previous = activeMeter;
    activeMeter = meter;
    let valid: boolean;
    try {
      valid = validate(data) as boolean;
    } finally {
      activeMeter = previous;
    }
    budgeted.errors = meter.exceeded ? budgetErrors(validate.errors ?? [], meter) : validate.errors;
    return valid && !meter.exceeded;
  };
  return budgeted;
}

function budgetErrors(errors: ErrorObject[], meter: PatternMeter): ErrorObject[] {
  const rewritten = errors.map((error) =>
    error.keyword === 'pattern' && meter.wasSkipped((error.params as { pattern?: unknown }).pattern, error.data) ? budgetError(error.instancePath, error.schemaPath) : error,
  );
  if (!rewritten.some((error) => error.keyword === PATTERN_BUDGET_KEYWORD)) rewritten.push(budgetError('', '#'));
  return rewritten;
}

function budgetError(instancePath: string, schemaPath: string): ErrorObject {
  return {
    keyword: PATTERN_BUDGET_KEYWORD,
    instancePath,
    schemaPath,
    params: { limit: PATTERN_MATCH_BUDGET },
    message: `not checked against its pattern: the object's values would cost more than ${PATTERN_MATCH_BUDGET} to match against their patterns ((length + 1) × pattern size, summed); shorten the values`,
  };
}

// ---- helpers ----

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
