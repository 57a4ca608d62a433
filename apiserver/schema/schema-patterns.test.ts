import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { REPOSITORY_ROOT } from '../server.ts';
import { resourcesFromCrd, type CustomResourceDefinition } from '../registry/crd.ts';
import {
  compilePattern,
  MAX_PATTERN_LENGTH,
  MAX_PATTERN_PROGRAM_SIZE,
  MAX_SCHEMA_PROGRAM_SIZE,
  PATTERN_MATCH_BUDGET,
  PatternError,
  schemaPatternProblems,
} from './schema-patterns.ts';
import { ObjectSchema } from './schema-validator.ts';
import type { JSONSchemaProps } from './structural-schema.ts';

/** Patterns that take exponential or polynomial time on a backtracking engine. */
const CATASTROPHIC = ['^(a+)+$', '^(a|aa)*$', '(a|aa)*$', '(a*)*b', '^(a|a)*$', '(.*a){20}', '(.*a){20}$', '^(\\w+\\s?)*$', '^(([a-z])+.)+[A-Z]([a-z])+$', '(x+x+)+y', '^(a?){30}a{30}$', '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$'];
/** Values that make those patterns backtrack. */
const ADVERSARIAL = ['a'.repeat(30) + '!', 'a'.repeat(5000) + '!', 'a'.repeat(28) + 'b', 'x'.repeat(5000), 'aaaa@'.repeat(400) + '!', 'a '.repeat(3000) + '!', 'é'.repeat(3000) + '!', ''];

const stringSchema = (field: JSONSchemaProps): JSONSchemaProps => ({ type: 'object', properties: { spec: { type: 'object', properties: { x: field } } } });
const objectWith = (x: unknown) => ({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { x } });

function timed<T>(run: () => T): { result: T; ms: number } {
  const started = performance.now();
  const result = run();
  return { result, ms: performance.now() - started };
}

describe('compilePattern', () => {
  it("compiles every pattern of PhotonCloud's own CRDs", () => {
    const dir = path.join(REPOSITORY_ROOT, 'crds');
    const patterns = fs.readdirSync(dir).filter((file) => file.endsWith('.yaml')).flatMap((file) => [...fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/^\s*pattern: '(.*)'$/gm)].map((match) => match[1]));
    expect(patterns.length).toBeGreaterThan(10);
    for (const pattern of patterns) expect(compilePattern(pattern).programSize).toBeLessThanOrEqual(MAX_PATTERN_PROGRAM_SIZE);
  });

  it('refuses what RE2 cannot run: backreferences and lookaround', () => {
    for (const pattern of ['(a)\\1', '^(\\w+)\\s\\1$', '(?<n>a)\\k<n>', '(?=a)b', '(?!a)b', 'a(?=b)', '(?<=a)b', '(?<!a)b', '(a++)', '[']) {
      expect(() => compilePattern(pattern)).toThrow(PatternError);
      expect(() => compilePattern(pattern)).toThrow(/not a valid RE2 regular expression/);
    }
  });

  it(`refuses patterns over ${MAX_PATTERN_LENGTH} characters and programs over ${MAX_PATTERN_PROGRAM_SIZE} instructions`, () => {
    expect(compilePattern('a'.repeat(MAX_PATTERN_LENGTH)).source).toHaveLength(MAX_PATTERN_LENGTH);
    expect(() => compilePattern('a'.repeat(MAX_PATTERN_LENGTH + 1))).toThrow(`must be no more than ${MAX_PATTERN_LENGTH} characters (is ${MAX_PATTERN_LENGTH + 1})`);
    expect(compilePattern('^.{0,1000}$').programSize).toBeLessThanOrEqual(MAX_PATTERN_PROGRAM_SIZE);
    expect(() => compilePattern('.{1000}'.repeat(6))).toThrow(/compiles to \d+ RE2 instructions, more than 5000/);
    expect(() => compilePattern('(?:a{1000}){1000}')).toThrow(PatternError); // RE2's own repeat limit
  });
});

describe('schemaPatternProblems', () => {
  it('names every refused pattern by its path in the schema, wherever it is', () => {
    const schema = {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          properties: {
            ok: { type: 'string', pattern: '^[a-z]+$' },
            back: { type: 'string', pattern: '(a)\\1' },
            list: { type: 'array', items: { type: 'string', pattern: '(?=x)' } },
            map: { type: 'object', additionalProperties: { type: 'string', pattern: 'y'.repeat(MAX_PATTERN_LENGTH + 1) } },
            union: { anyOf: [{ type: 'string' }, { type: 'string', pattern: '(?<!z)' }] },
          },
          patternProperties: { '(b)\\1': { type: 'string' } },
        },
      },
    };
    const problems = schemaPatternProblems(schema);
    expect(problems.map((problem) => problem.path).sort()).toEqual([
      'properties.spec.patternProperties[(b)\\1]',
      'properties.spec.properties.back.pattern',
      'properties.spec.properties.list.items.pattern',
      'properties.spec.properties.map.additionalProperties.pattern',
      'properties.spec.properties.union.anyOf[1].pattern',
    ]);
    expect(problems.find((problem) => problem.path.endsWith('back.pattern'))!.message).toMatch(/^Invalid value: "\(a\)\\\\1": is not a valid RE2/);
    expect(schemaPatternProblems({ type: 'object', properties: { a: { type: 'string', pattern: '^[a-z]+$' } } })).toEqual([]);
    expect(schemaPatternProblems(undefined)).toEqual([]);
  });

  it(`refuses a schema whose distinct patterns compile to more than ${MAX_SCHEMA_PROGRAM_SIZE} instructions in all`, () => {
    const big = (index: number) => ({ type: 'string', pattern: `.{1000}.{1000}.{990}x${index}` });
    const properties = Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`p${index}`, big(index)]));
    const problems = schemaPatternProblems({ type: 'object', properties });
    expect(problems).toEqual([{ path: '', message: `Forbidden: the schema's patterns compile to more than ${MAX_SCHEMA_PROGRAM_SIZE} RE2 instructions in all` }]);
    // The same pattern repeated counts once.
    const same = Object.fromEntries(Array.from({ length: 100 }, (_, index) => [`p${index}`, big(0)]));
    expect(schemaPatternProblems({ type: 'object', properties: same })).toEqual([]);
  });

  it('walks a deeply nested schema without recursion', () => {
    let schema: Record<string, unknown> = { type: 'string', pattern: '(a)\\1' };
    for (let depth = 0; depth < 20_000; depth++) schema = { type: 'array', items: schema };
    const problems = schemaPatternProblems(schema);
    expect(problems).toHaveLength(1);
    expect(problems[0].path.endsWith('items.items.pattern')).toBe(true);
  });
});

describe('schema patterns on RE2', () => {
  it('match as JSON Schema says: anywhere in the value unless anchored, Unicode aware', () => {
    const cases: Array<[string, string, boolean]> = [
      ['abc', 'xxabcxx', true],
      ['^abc$', 'xxabcxx', false],
      ['^abc$', 'abc', true],
      ['^\\p{L}+$', 'Grüße', true],
      ['^.$', '😀', true],
      ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', 'my-name', true],
      ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', '-name', false],
      ['(?i)^abc$', 'ABC', true],
    ];
    for (const [pattern, value, matches] of cases) {
      const errors = new ObjectSchema(stringSchema({ type: 'string', pattern })).validate(objectWith(value));
      expect({ pattern, value, matched: errors.length === 0 }).toEqual({ pattern, value, matched: matches });
    }
  });

  it('answers catastrophic patterns against adversarial values at once (V8 took 5.6 s for ^(a+)+$ on 30 characters)', () => {
    for (const pattern of CATASTROPHIC) {
      const schema = new ObjectSchema(stringSchema({ type: 'string', pattern }));
      for (const value of ADVERSARIAL) {
        const { result, ms } = timed(() => schema.validate(objectWith(value)));
        expect({ pattern, value: value.slice(0, 10), ms: ms < 1000 }).toEqual({ pattern, value: value.slice(0, 10), ms: true }); // tens of ms; V8 took seconds to forever
        for (const error of result) expect(['FieldValueInvalid', 'FieldValueForbidden']).toContain(error.reason);
      }
    }
  });

  it('reports a mismatch with the pattern, as before', () => {
    const errors = new ObjectSchema(stringSchema({ type: 'string', pattern: '^(a+)+$' })).validate(objectWith('a'.repeat(30) + '!'));
    expect(errors).toEqual([{ field: 'spec.x', reason: 'FieldValueInvalid', message: `Invalid value: "${'a'.repeat(30)}!": spec.x in body should match '^(a+)+$'` }]);
  });
});

describe('the matching budget', () => {
  // A pattern whose program is ~1,000 instructions: each character of a value costs ~1,000.
  const wide = '^[a-z ]{1000}!';
  const size = compilePattern(wide).programSize;
  const affordable = Math.floor(PATTERN_MATCH_BUDGET / size) - 1; // (length + 1) × size fits

  it('refuses a value too long to match against its pattern, naming the field, without echoing it', () => {
    const schema = new ObjectSchema(stringSchema({ type: 'string', pattern: wide }));
    const value = 'a '.repeat(affordable); // twice what the budget affords
    const { result, ms } = timed(() => schema.validate(objectWith(value)));
    expect(result).toHaveLength(1);
    expect(result[0]).toMatchObject({ field: 'spec.x', reason: 'FieldValueForbidden' });
    expect(result[0].message).toContain(`more than ${PATTERN_MATCH_BUDGET}`);
    expect(result[0].message).not.toContain('a a a');
    expect(ms).toBeLessThan(1000);
  });

  it('is shared by all the values of one object and starts afresh for the next one', () => {
    const schema = new ObjectSchema(stringSchema({ type: 'array', items: { type: 'string', pattern: wide } }));
    // Four such values fit in the budget, a fifth does not.
    const values = Array.from({ length: 6 }, (_, index) => `${'a'.repeat(Math.floor(PATTERN_MATCH_BUDGET / 4.5 / size) - 2)}${index}`);
    const reasons = (list: string[]) => schema.validate(objectWith(list)).map((error) => `${error.field} ${error.reason}`);
    const mismatches = ['spec.x[0] FieldValueInvalid', 'spec.x[1] FieldValueInvalid', 'spec.x[2] FieldValueInvalid'];
    expect(reasons(values.slice(0, 3))).toEqual(mismatches);
    expect(reasons(values.slice(0, 3))).toEqual(mismatches);
    expect(reasons(values)).toEqual([...mismatches, 'spec.x[3] FieldValueInvalid', 'spec.x[4] FieldValueForbidden', 'spec.x[5] FieldValueForbidden']);
    // A value that occurs again is not charged again: it is known not to match.
    expect(reasons(Array(6).fill(values[0]))).toEqual(Array.from({ length: 6 }, (_, index) => `spec.x[${index}] FieldValueInvalid`));
  });

  it('fails closed: a test skipped under `not` still refuses the object', () => {
    const schema = new ObjectSchema(stringSchema({ type: 'string', not: { pattern: wide } }));
    const errors = schema.validate(objectWith('a'.repeat(affordable * 2)));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.some((error) => error.reason === 'FieldValueForbidden')).toBe(true);
  });

  it('spends at most about a budget of time on the most expensive patterns', () => {
    for (const pattern of ['\\pL.{1000}!', '(?:.*a){1000}!', '(?:a|b| ){1000}!', '.{999}.{999}.{999}.{999}.{999}!']) {
      const cost = compilePattern(pattern).programSize;
      const length = 2000;
      const count = Math.ceil((3 * PATTERN_MATCH_BUDGET) / (cost * (length + 1)));
      const values = Array.from({ length: count }, (_, index) => `${'a '.repeat(length / 2 - 1)}${index % 2 ? 'aa' : 'a!'}`);
      const schema = new ObjectSchema(stringSchema({ type: 'array', items: { type: 'string', pattern } }));
      const { result, ms } = timed(() => schema.validate(objectWith(values)));
      expect(result.some((error) => error.reason === 'FieldValueForbidden')).toBe(true);
      expect({ pattern, ms: ms < 1000 }).toEqual({ pattern, ms: true }); // ~110 ms on a loaded machine
    }
  });
});

describe('CRDs with patterns RE2 refuses', () => {
  const crd = (versions: CustomResourceDefinition['spec']['versions']): CustomResourceDefinition => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec: { group: 'example.com', scope: 'Namespaced', names: { plural: 'widgets', kind: 'Widget' }, versions },
  });
  const version = (name: string, pattern: string, served = true) => ({ name, served, storage: name === 'v1', schema: { openAPIV3Schema: stringSchema({ type: 'string', pattern }) } });

  it('are refused with the full path of each refused pattern, in served and unserved versions alike', () => {
    expect(() => resourcesFromCrd(crd([version('v1', '^[a-z]+$')]))).not.toThrow();
    expect(() => resourcesFromCrd(crd([version('v1', '(a)\\1')]))).toThrow(/^spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\.spec\.properties\.x\.pattern: Invalid value: .*not a valid RE2/);
    expect(() => resourcesFromCrd(crd([version('v1', '^ok$'), version('v2', '(?=a)', false)]))).toThrow(/^spec\.versions\[1\]\.schema\.openAPIV3Schema\.properties\.spec\.properties\.x\.pattern: /);
    expect(() => resourcesFromCrd(crd([version('v1', 'a'.repeat(MAX_PATTERN_LENGTH + 1))]))).toThrow(`spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.x.pattern: Invalid value: "${'a'.repeat(100)}…": must be no more than ${MAX_PATTERN_LENGTH} characters`);
  });
});
