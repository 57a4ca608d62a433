import { describe, expect, it } from '@jest/globals';
import { compileJsonPath, JsonPathError } from './jsonpath.ts';

const vpc = {
  metadata: { name: 'main', labels: { 'app.kubernetes.io/name': 'net' } },
  spec: { cidr: '10.0.0.0/16', subnets: [{ name: 'a', size: 24, public: true }, { name: 'b', size: 26, public: false }], zero: 0, empty: '' },
  status: {
    conditions: [
      { type: 'Progressing', status: 'False', observedGeneration: 1 },
      { type: 'Ready', status: 'True', observedGeneration: 2 },
    ],
  },
};

const run = (expression: string, value: unknown = vpc) => compileJsonPath(expression)(value);

describe('compileJsonPath', () => {
  it('follows dotted paths', () => {
    expect(run('.spec.cidr')).toEqual(['10.0.0.0/16']);
    expect(run('.metadata')).toEqual([vpc.metadata]);
    expect(run('.spec.missing')).toEqual([]);
    expect(run('.spec.cidr.deeper')).toEqual([]);
  });

  it('keeps falsy values that exist', () => {
    expect(run('.spec.zero')).toEqual([0]);
    expect(run('.spec.empty')).toEqual(['']);
    expect(run('.a', { a: null })).toEqual([null]);
  });

  it('accepts the {…} and $ forms kubectl allows', () => {
    expect(run('{.spec.cidr}')).toEqual(['10.0.0.0/16']);
    expect(run('$.spec.cidr')).toEqual(['10.0.0.0/16']);
    expect(run(' .spec.cidr ')).toEqual(['10.0.0.0/16']);
  });

  it('indexes lists and ignores out-of-range indices', () => {
    expect(run('.spec.subnets[1].name')).toEqual(['b']);
    expect(run('.spec.subnets[0]')).toEqual([vpc.spec.subnets[0]]);
    expect(run('.spec.subnets[5].name')).toEqual([]);
    expect(run('.spec.cidr[0]')).toEqual([]);
  });

  it('[*] yields every list item (or map value) in order', () => {
    expect(run('.spec.subnets[*].name')).toEqual(['a', 'b']);
    expect(run('.spec.subnets[*].size')).toEqual([24, 26]);
    expect(run('.metadata.labels[*]')).toEqual(['net']);
  });

  it('quoted keys reach names with dots and slashes', () => {
    expect(run(".metadata.labels['app.kubernetes.io/name']")).toEqual(['net']);
    expect(run('.metadata.labels["app.kubernetes.io/name"]')).toEqual(['net']);
  });

  it('the Ready-condition filter printer columns use', () => {
    expect(run('.status.conditions[?(@.type=="Ready")].status')).toEqual(['True']);
    expect(run(".status.conditions[?(@.type == 'Ready')].observedGeneration")).toEqual([2]);
    expect(run('.status.conditions[?(@.type=="Degraded")].status')).toEqual([]);
    expect(run('.status.conditions[?(@.type=="Ready")].status', { status: {} })).toEqual([]);
  });

  it('filters on strings, numbers and booleans with == and !=', () => {
    expect(run('.spec.subnets[?(@.size==26)].name')).toEqual(['b']);
    expect(run('.spec.subnets[?(@.size!=26)].name')).toEqual(['a']);
    expect(run('.spec.subnets[?(@.public==true)].name')).toEqual(['a']);
    expect(run('.spec.subnets[?(@.public!=true)].name')).toEqual(['b']);
    expect(run('.spec.subnets[?(@.name!="a")].size')).toEqual([26]);
    // A number never equals its string form.
    expect(run('.spec.subnets[?(@.size=="26")].name')).toEqual([]);
    // Items without the field are not selected by !=.
    expect(run('.items[?(@.x!="a")].n', { items: [{ n: 1 }, { n: 2, x: 'b' }] })).toEqual([2]);
  });

  it('filters on nested fields', () => {
    const value = { items: [{ meta: { kind: 'A' }, v: 1 }, { meta: { kind: 'B' }, v: 2 }] };
    expect(run('.items[?(@.meta.kind=="B")].v', value)).toEqual([2]);
  });

  it('does not read inherited properties', () => {
    expect(run('.constructor', {})).toEqual([]);
    expect(run('.spec.toString')).toEqual([]);
    expect(run('.items[?(@.constructor=="x")]', { items: [{}] })).toEqual([]);
    expect(run('.items[?(@.constructor!="x")].n', { items: [{ n: 1 }] })).toEqual([]);
  });

  it('does not treat a list as having named fields', () => {
    expect(run('.spec.subnets.length')).toEqual([]);
    expect(run('.spec.subnets.name')).toEqual([]);
  });

  it('throws JsonPathError on invalid expressions', () => {
    for (const expression of ['spec.cidr', '.spec[', '.spec.', '.spec..cidr', '.spec[?(@.a>1)]', '.spec[?(@.a==b)]', '.spec[abc]', '.spec cidr', '..spec']) {
      expect(() => compileJsonPath(expression)).toThrow(JsonPathError);
    }
  });
});
