import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../errors.ts';
import { parseLabelSelector } from './label-selector.ts';
import { MAX_SELECTOR_LENGTH, MAX_SELECTOR_TERMS } from './limits.ts';

function rejects(selector: string): ApiError {
  try {
    parseLabelSelector(selector);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error(`selector ${JSON.stringify(selector)} was accepted`);
}

describe('parseLabelSelector', () => {
  const web = { app: 'web', tier: 'frontend', replicas: '3' };
  const db = { app: 'db', tier: 'backend' };
  const none: Record<string, string> = {};

  it('matches everything when the selector is empty or blank', () => {
    for (const selector of [undefined, '', '   ']) {
      const matches = parseLabelSelector(selector);
      expect(matches(web)).toBe(true);
      expect(matches(undefined)).toBe(true);
    }
  });

  it('= and == require the label with that value', () => {
    for (const selector of ['app=web', 'app==web', ' app = web ', 'app == web']) {
      const matches = parseLabelSelector(selector);
      expect(matches(web)).toBe(true);
      expect(matches(db)).toBe(false);
      expect(matches(none)).toBe(false);
      expect(matches(undefined)).toBe(false);
    }
  });

  it('!= also matches objects without the label (Kubernetes semantics)', () => {
    const matches = parseLabelSelector('app!=web');
    expect(matches(web)).toBe(false);
    expect(matches(db)).toBe(true);
    expect(matches(none)).toBe(true);
    expect(matches(undefined)).toBe(true);
  });

  it('a= selects an empty value, not a missing label', () => {
    const matches = parseLabelSelector('app=');
    expect(matches({ app: '' })).toBe(true);
    expect(matches(web)).toBe(false);
    expect(matches(none)).toBe(false);
  });

  it('in and notin with value sets, with or without spaces', () => {
    const inSet = parseLabelSelector('app in (web, db)');
    expect(inSet(web)).toBe(true);
    expect(inSet(db)).toBe(true);
    expect(inSet({ app: 'cache' })).toBe(false);
    expect(inSet(none)).toBe(false);
    expect(parseLabelSelector('app in(web)')(web)).toBe(true);

    const notIn = parseLabelSelector('app notin (web,cache)');
    expect(notIn(web)).toBe(false);
    expect(notIn(db)).toBe(true);
    expect(notIn(none)).toBe(true);
  });

  it('exists and !exists', () => {
    expect(parseLabelSelector('tier')(web)).toBe(true);
    expect(parseLabelSelector('tier')(none)).toBe(false);
    expect(parseLabelSelector('!tier')(web)).toBe(false);
    expect(parseLabelSelector('!tier')(none)).toBe(true);
    expect(parseLabelSelector('! tier')(none)).toBe(true);
  });

  it('does not treat inherited object properties as labels', () => {
    expect(parseLabelSelector('constructor')({})).toBe(false);
    expect(parseLabelSelector('!toString')({})).toBe(true);
  });

  it('> and < compare integers and never match non-integer or missing values', () => {
    expect(parseLabelSelector('replicas>2')(web)).toBe(true);
    expect(parseLabelSelector('replicas>3')(web)).toBe(false);
    expect(parseLabelSelector('replicas<4')(web)).toBe(true);
    expect(parseLabelSelector('replicas < 3')(web)).toBe(false);
    expect(parseLabelSelector('replicas>-1')(web)).toBe(true);
    expect(parseLabelSelector('replicas>1')({ replicas: 'many' })).toBe(false);
    expect(parseLabelSelector('replicas<10')(none)).toBe(false);
  });

  it('commas join requirements that must all hold; commas inside parentheses belong to the set', () => {
    const matches = parseLabelSelector('app in (web,db), tier=frontend,!canary');
    expect(matches(web)).toBe(true);
    expect(matches(db)).toBe(false);
    expect(matches({ ...web, canary: 'true' })).toBe(false);
  });

  it('accepts prefixed keys and keys with dots, dashes and underscores', () => {
    const matches = parseLabelSelector('app.kubernetes.io/name=web,my_key.x-y=A.b_c-1');
    expect(matches({ 'app.kubernetes.io/name': 'web', 'my_key.x-y': 'A.b_c-1' })).toBe(true);
  });

  it('rejects invalid keys with a 400 naming the key and the selector', () => {
    const error = rejects('-app=web');
    expect(error.code).toBe(400);
    expect(error.reason).toBe('BadRequest');
    expect(error.message).toBe('unable to parse requirement: invalid label key "-app" in selector "-app=web"');
    expect(rejects('Example.com/app=web').code).toBe(400); // the prefix is a lower-case DNS subdomain
    expect(rejects('a/b/c=web').code).toBe(400);
    expect(rejects('/app').code).toBe(400);
  });

  it('rejects keys whose name part is longer than 63 characters or whose prefix is longer than 253', () => {
    expect(parseLabelSelector(`${'a'.repeat(63)}=x`)({ ['a'.repeat(63)]: 'x' })).toBe(true);
    expect(rejects(`${'a'.repeat(64)}=x`).message).toContain('invalid label key');
    expect(rejects(`example.com/${'a'.repeat(64)}`).code).toBe(400);
    const longPrefix = `${'a'.repeat(60)}.`.repeat(4) + 'b'.repeat(10); // 254 characters
    expect(longPrefix.length).toBe(254);
    expect(rejects(`${longPrefix}/app`).code).toBe(400);
  });

  it('rejects invalid values, also inside sets', () => {
    expect(rejects('app=-web').message).toBe('unable to parse requirement: invalid label value "-web" in selector "app=-web"');
    expect(rejects(`app=${'v'.repeat(64)}`).code).toBe(400);
    expect(rejects('app in (web,b@d)').message).toContain('invalid label value "b@d"');
    expect(rejects('app=a=b').code).toBe(400);
  });

  it('rejects empty requirements and malformed syntax', () => {
    expect(rejects('app=web,').message).toBe(`unable to parse requirement: found '', expected: identifier in selector "app=web,"`);
    expect(rejects(',app').code).toBe(400);
    expect(rejects('app in web').code).toBe(400);
    expect(rejects('app>x').code).toBe(400);
    expect(rejects('app>1.5').code).toBe(400);
    expect(rejects('app web').code).toBe(400);
  });
});

describe('parseLabelSelector on hostile input', () => {
  const timedParse = (selector: string) => {
    const started = performance.now();
    try {
      parseLabelSelector(selector)({ a: 'b' });
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).code).toBe(400);
    }
    return performance.now() - started;
  };

  it('parses 8 KB selectors of every shape in linear time', () => {
    const fill = (unit: string, prefix = '', suffix = '') => prefix + unit.repeat(Math.floor((MAX_SELECTOR_LENGTH - prefix.length - suffix.length) / unit.length)) + suffix;
    const selectors = [
      fill(' ', 'a=x', ')'), fill(' ', 'a in (', '\n)'), fill('a,', 'a in (', 'a)'), fill('(', 'a in '), fill(')'), fill('a-', '', '!/b'),
      fill('a.', '', 'a/b'), fill('a=,'), fill('!'), fill('a'), fill(' ', 'a', 'b'), fill('a ', '', 'in (x)'), fill('é', 'a='), fill('-1', 'a>'),
    ];
    for (const selector of selectors) expect(timedParse(selector)).toBeLessThan(50);
  });

  it('matches large value sets by lookup', () => {
    const values = Array.from({ length: 1500 }, (_, index) => `v${index}`);
    const matches = parseLabelSelector(`app in (${values.join(',')})`);
    expect(matches({ app: 'v1499' })).toBe(true);
    expect(matches({ app: 'v1500' })).toBe(false);
  });

  it(`refuses selectors over ${MAX_SELECTOR_LENGTH} characters or ${MAX_SELECTOR_TERMS} requirements with a 400`, () => {
    expect(rejects(`app in (${'a,'.repeat(MAX_SELECTOR_LENGTH / 2)}a)`).message).toMatch(/^invalid labelSelector: the selector is \d+ characters long, more than the 8192 allowed$/);
    const requirements = (count: number) => Array.from({ length: count }, (_, index) => `k${index}`).join(',');
    expect(parseLabelSelector(requirements(MAX_SELECTOR_TERMS))(Object.fromEntries(Array.from({ length: MAX_SELECTOR_TERMS }, (_, index) => [`k${index}`, 'v'])))).toBe(true);
    expect(rejects(requirements(MAX_SELECTOR_TERMS + 1)).message).toBe(`invalid labelSelector: the selector has ${MAX_SELECTOR_TERMS + 1} terms, more than the ${MAX_SELECTOR_TERMS} allowed`);
    // Commas inside a set do not count as terms.
    expect(parseLabelSelector(`app in (${'a,'.repeat(500)}b)`)({ app: 'b' })).toBe(true);
  });
});
