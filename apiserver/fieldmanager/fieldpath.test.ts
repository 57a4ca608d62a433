import { describe, expect, it } from '@jest/globals';
import { FieldSet, compareElements, fieldElement, goJSON, goQuote, keyElement, parseElement, renderPath, valueElement } from './fieldpath.ts';

const f = fieldElement;

describe('path elements', () => {
  it('serializes keys sorted by name, compact, in Go JSON', () => {
    expect(keyElement([['protocol', 'TCP'], ['port', 80]])).toBe('k:{"port":80,"protocol":"TCP"}');
    expect(keyElement([['name', 'eth0']])).toBe('k:{"name":"eth0"}');
    expect(valueElement('x')).toBe('v:"x"');
    expect(valueElement(3)).toBe('v:3');
  });

  it('escapes like encoding/json (HTML characters, line separators) and sorts object keys', () => {
    expect(goJSON('a<b>&c\u2028')).toBe('"a\\u003cb\\u003e\\u0026c\\u2028"');
    expect(goJSON({ b: 1, a: [true, null] })).toBe('{"a":[true,null],"b":1}');
    expect(goJSON('tab\there\u0001')).toBe('"tab\\there\\u0001"');
  });

  it('parses stored keys into the canonical form, whatever their spacing or key order', () => {
    expect(parseElement('k:{ "b": "2", "a": 1 }')).toBe('k:{"a":1,"b":"2"}');
    expect(parseElement('v: "x"')).toBe('v:"x"');
    expect(parseElement('f:spec')).toBe('f:spec');
    expect(parseElement('i:3')).toBe('i:3');
    expect(parseElement('z:unknown')).toBeUndefined();
    expect(() => parseElement('k:[1]')).toThrow();
    expect(() => parseElement('i:-1')).toThrow();
    // Parsed forms are remembered: asked again, the same canonical answers (and a malformed key still throws).
    expect(parseElement('k:{ "b": "2", "a": 1 }')).toBe('k:{"a":1,"b":"2"}');
    expect(parseElement('v: "x"')).toBe('v:"x"');
    expect(() => parseElement('k:[1]')).toThrow();
  });

  it('renders paths the way Kubernetes prints them in conflicts', () => {
    expect(renderPath([f('spec'), f('cidrBlocks')])).toBe('.spec.cidrBlocks');
    expect(renderPath([f('spec'), f('disks'), keyElement([['name', 'root']]), f('size')])).toBe('.spec.disks[name="root"].size');
    expect(renderPath([f('spec'), f('ports'), keyElement([['port', 80], ['protocol', 'TCP']])])).toBe('.spec.ports[port=80,protocol="TCP"]');
    expect(renderPath([f('metadata'), f('finalizers'), valueElement('a/b')])).toBe('.metadata.finalizers[="a/b"]');
    expect(renderPath([f('spec'), f('list'), 'i:2'])).toBe('.spec.list[2]');
    expect(goQuote('a"b\\c\n\x01')).toBe('"a\\"b\\\\c\\n\\x01"');
  });

  it('orders elements fields < keys < values < indexes', () => {
    const sorted = ['i:10', 'v:"a"', 'k:{"name":"a"}', 'i:2', 'f:b', 'f:a'].sort(compareElements);
    expect(sorted).toEqual(['f:a', 'f:b', 'k:{"name":"a"}', 'v:"a"', 'i:2', 'i:10']);
  });
});

describe('FieldSet', () => {
  it('round-trips FieldsV1 exactly, with the "." marker for paths that are also parents', () => {
    // As Kubernetes stores a create of a custom resource by kubectl (an Update operation).
    const fieldsV1 = {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': {
        '.': {},
        'f:cidrBlocks': { '.': {}, 'v:"10.0.0.0/16"': {} },
        'f:disks': { '.': {}, 'k:{"name":"root"}': { '.': {}, 'f:name': {}, 'f:size': {} } },
      },
    };
    const set = FieldSet.fromFieldsV1(fieldsV1);
    expect(set.has([f('spec')])).toBe(true);
    expect(set.has([f('metadata')])).toBe(false);
    expect(set.has([f('metadata'), f('labels')])).toBe(true);
    expect(set.has([f('spec'), f('disks'), 'k:{"name":"root"}', f('size')])).toBe(true);
    expect(JSON.stringify(set.toFieldsV1())).toBe(JSON.stringify(fieldsV1));
  });

  it('writes keys in byte order, "." first', () => {
    const set = FieldSet.of([f('spec')], [f('spec'), f('z')], [f('spec'), f('a')], [f('apiVersion')]);
    expect(JSON.stringify(set.toFieldsV1())).toBe('{"f:apiVersion":{},"f:spec":{".":{},"f:a":{},"f:z":{}}}');
  });

  it('reads non-canonical keys, skips unknown kinds and rejects malformed entries', () => {
    const set = FieldSet.fromFieldsV1({ 'f:spec': { 'k:{ "name" : "a" }': {}, 'x:future': {} } });
    expect(set.has([f('spec'), 'k:{"name":"a"}'])).toBe(true);
    expect(set.toFieldsV1()).toEqual({ 'f:spec': { 'k:{"name":"a"}': {} } });
    expect(() => FieldSet.fromFieldsV1({ 'f:spec': 'x' })).toThrow();
    expect(() => FieldSet.fromFieldsV1([])).toThrow();
    expect(FieldSet.fromFieldsV1({}).isEmpty()).toBe(true);
  });

  it('merges two keys that name the same element (its fields in another order) instead of keeping one', () => {
    const set = FieldSet.fromFieldsV1({ 'f:spec': { 'k:{"a":1,"b":2}': { 'f:x': {} }, 'k:{"b":2,"a":1}': { 'f:y': {} } } });
    expect(set.toFieldsV1()).toEqual({ 'f:spec': { 'k:{"a":1,"b":2}': { 'f:x': {}, 'f:y': {} } } });
  });

  it('difference is path by path; recursive difference also drops what is below a member', () => {
    const a = FieldSet.of([f('spec')], [f('spec'), f('x')], [f('spec'), f('y')]);
    const spec = FieldSet.of([f('spec')]);
    expect(a.difference(spec).paths()).toEqual([[f('spec'), f('x')], [f('spec'), f('y')]]);
    expect(a.recursiveDifference(spec).isEmpty()).toBe(true);
    expect(a.intersection(FieldSet.of([f('spec'), f('y')], [f('status')])).paths()).toEqual([[f('spec'), f('y')]]);
    expect(a.union(FieldSet.of([f('status')])).paths()).toEqual([[f('spec')], [f('status')], [f('spec'), f('x')], [f('spec'), f('y')]]);
    expect(a.equals(a.clone())).toBe(true);
    expect(a.equals(spec)).toBe(false);
  });
});
