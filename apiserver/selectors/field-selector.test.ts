import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { ApiError } from '../errors.ts';
import { parseFieldSelector, readField } from './field-selector.ts';
import { MAX_SELECTOR_LENGTH, MAX_SELECTOR_TERMS } from './limits.ts';

const vm = (name: string, namespace: string | undefined, nodeName?: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'compute.photoncloud.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, ...(namespace ? { namespace } : {}) },
  spec: { nodeName, ...extra },
});

function rejects(selector: string, selectable: string[] = []): ApiError {
  try {
    parseFieldSelector(selector, selectable);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error(`selector ${JSON.stringify(selector)} was accepted`);
}

describe('readField', () => {
  it('reads scalars along a dotted path and renders numbers and booleans as strings', () => {
    const object = { spec: { nodeName: 'n1', replicas: 3, paused: false, list: ['a'], map: { a: 1 } } };
    expect(readField(object, 'spec.nodeName')).toBe('n1');
    expect(readField(object, 'spec.replicas')).toBe('3');
    expect(readField(object, 'spec.paused')).toBe('false');
    expect(readField(object, 'spec.list')).toBeUndefined();
    expect(readField(object, 'spec.map')).toBeUndefined();
    expect(readField(object, 'spec.missing.deeper')).toBeUndefined();
    expect(readField(object, 'spec.nodeName.length')).toBeUndefined();
  });
});

describe('parseFieldSelector', () => {
  it('matches everything when empty', () => {
    const parsed = parseFieldSelector(undefined, []);
    expect(parsed.matches(vm('a', 'ns'))).toBe(true);
    expect(parsed.exactName).toBeUndefined();
    expect(parseFieldSelector('  ', []).matches(vm('a', 'ns'))).toBe(true);
  });

  it('metadata.name with =, == and !=', () => {
    expect(parseFieldSelector('metadata.name=a', []).matches(vm('a', 'ns'))).toBe(true);
    expect(parseFieldSelector('metadata.name==a', []).matches(vm('b', 'ns'))).toBe(false);
    expect(parseFieldSelector('metadata.name!=a', []).matches(vm('a', 'ns'))).toBe(false);
    expect(parseFieldSelector('metadata.name!=a', []).matches(vm('b', 'ns'))).toBe(true);
    expect(parseFieldSelector(' metadata.name = a ', []).matches(vm('a', 'ns'))).toBe(true);
  });

  it('metadata.namespace; cluster-scoped objects have an empty namespace', () => {
    expect(parseFieldSelector('metadata.namespace=ns', []).matches(vm('a', 'ns'))).toBe(true);
    expect(parseFieldSelector('metadata.namespace=ns', []).matches(vm('a', 'other'))).toBe(false);
    expect(parseFieldSelector('metadata.namespace!=ns', []).matches(vm('a', undefined))).toBe(true);
    expect(parseFieldSelector('metadata.namespace=', []).matches(vm('a', undefined))).toBe(true);
  });

  it('declared selectable fields; a missing field compares as the empty string', () => {
    const onNode = parseFieldSelector('spec.nodeName=n1', ['spec.nodeName']);
    expect(onNode.matches(vm('a', 'ns', 'n1'))).toBe(true);
    expect(onNode.matches(vm('a', 'ns', 'n2'))).toBe(false);
    expect(onNode.matches(vm('a', 'ns'))).toBe(false);
    expect(parseFieldSelector('spec.nodeName=', ['spec.nodeName']).matches(vm('a', 'ns'))).toBe(true);
    expect(parseFieldSelector('spec.nodeName!=', ['spec.nodeName']).matches(vm('a', 'ns', 'n1'))).toBe(true);
    expect(parseFieldSelector('spec.replicas=3', ['spec.replicas']).matches(vm('a', 'ns', undefined, { replicas: 3 }))).toBe(true);
  });

  it('all comma-separated terms must hold', () => {
    const parsed = parseFieldSelector('metadata.namespace=ns,spec.nodeName!=n2', ['spec.nodeName']);
    expect(parsed.matches(vm('a', 'ns', 'n1'))).toBe(true);
    expect(parsed.matches(vm('a', 'ns', 'n2'))).toBe(false);
    expect(parsed.matches(vm('a', 'other', 'n1'))).toBe(false);
  });

  it('unsupported fields are a 400 with the message Kubernetes gives', () => {
    const error = rejects('spec.nodeName=n1');
    expect(error.code).toBe(400);
    expect(error.reason).toBe('BadRequest');
    expect(error.message).toBe('field label not supported: spec.nodeName');
    expect(rejects('status.phase=Running', ['spec.nodeName']).message).toBe('field label not supported: status.phase');
    expect(rejects('metadata.name=a,x=b').message).toBe('field label not supported: x');
    expect(error.toStatus()).toMatchObject({ kind: 'Status', status: 'Failure', code: 400, message: 'field label not supported: spec.nodeName' });
  });

  it('terms without an operator are a 400', () => {
    const error = rejects('metadata.name');
    expect(error.code).toBe(400);
    expect(error.message).toBe(`invalid selector: 'metadata.name'; can't understand 'metadata.name'`);
    expect(rejects('metadata.name=a,').code).toBe(400);
  });

  it('extracts metadata.name= and metadata.namespace= for direct reads, but not from != terms', () => {
    const exact = parseFieldSelector('metadata.name=web,metadata.namespace==prod', []);
    expect(exact.exactName).toBe('web');
    expect(exact.exactNamespace).toBe('prod');
    const negated = parseFieldSelector('metadata.name!=web,metadata.namespace!=prod', []);
    expect(negated.exactName).toBeUndefined();
    expect(negated.exactNamespace).toBeUndefined();
    const other = parseFieldSelector('spec.nodeName=n1', ['spec.nodeName']);
    expect(other.exactName).toBeUndefined();
  });
});

describe('parseFieldSelector on hostile input', () => {
  const timedParse = (selector: string) => {
    const started = performance.now();
    try {
      parseFieldSelector(selector, ['spec.nodeName']);
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).code).toBe(400);
    }
    return performance.now() - started;
  };

  it('parses in linear time: 8 KB selectors that made the old regular expression backtrack quadratically', () => {
    const spaces = ' '.repeat(8000);
    const half = ' '.repeat(4000);
    // The old parser took ~90 ms for the first one (~290 ms at 16 KB).
    for (const selector of [`a=x${spaces})`, `metadata.name=x${spaces}\nx`, `metadata.name=x${'\t'.repeat(8000)} y`, `${half}a${half}`, `metadata.name=${' x'.repeat(4000)}\n`, 'a'.repeat(8000), '='.repeat(8000), ','.repeat(99)]) {
      expect(selector.length).toBeLessThanOrEqual(MAX_SELECTOR_LENGTH);
      expect(timedParse(selector)).toBeLessThan(50);
    }
  });

  it('keeps the old grammar: spaces around parts, values to the end of the term, no line breaks in values', () => {
    expect(parseFieldSelector('metadata.name = a b ', []).exactName).toBe('a b');
    expect(parseFieldSelector('metadata.name===a', []).exactName).toBe('=a');
    expect(parseFieldSelector('metadata.name= = a', []).exactName).toBe('= a');
    expect(rejects('metadata.name=a\nb').code).toBe(400);
    expect(rejects('metadata.name=a\u2028b').code).toBe(400);
    expect(rejects('metadata.name!a').code).toBe(400);
    expect(rejects('=a').code).toBe(400);
    expect(rejects('metadata .name=a').code).toBe(400);
  });

  it(`refuses selectors over ${MAX_SELECTOR_LENGTH} characters or ${MAX_SELECTOR_TERMS} terms with a 400 that does not echo them`, () => {
    const long = rejects(`metadata.name=${'a'.repeat(MAX_SELECTOR_LENGTH)}`);
    expect(long.message).toBe(`invalid fieldSelector: the selector is ${MAX_SELECTOR_LENGTH + 14} characters long, more than the ${MAX_SELECTOR_LENGTH} allowed`);
    const terms = (count: number) => Array.from({ length: count }, (_, index) => `metadata.name!=n${index}`).join(',');
    expect(parseFieldSelector(terms(MAX_SELECTOR_TERMS), []).matches(vm('a', 'ns'))).toBe(true);
    expect(rejects(terms(MAX_SELECTOR_TERMS + 1)).message).toBe(`invalid fieldSelector: the selector has ${MAX_SELECTOR_TERMS + 1} terms, more than the ${MAX_SELECTOR_TERMS} allowed`);
  });
});
