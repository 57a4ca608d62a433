import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { resourcesFromCrd, type CustomResourceDefinition } from '../registry/crd.ts';
import type { PrinterColumn, ResourceInfo } from '../registry/resource.ts';
import { humanDuration, renderRow, renderTable } from './table.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('humanDuration (k8s.io/apimachinery/pkg/util/duration.HumanDuration)', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [999, '0s'],
    [119 * SECOND, '119s'],
    [119 * SECOND + 999, '119s'],
    [2 * MINUTE, '2m'],
    [2 * MINUTE + SECOND, '2m1s'],
    [9 * MINUTE + 59 * SECOND, '9m59s'],
    [10 * MINUTE, '10m'],
    [10 * MINUTE + 59 * SECOND, '10m'],
    [179 * MINUTE + 59 * SECOND, '179m'],
    [3 * HOUR, '3h'],
    [3 * HOUR + MINUTE, '3h1m'],
    [7 * HOUR + 59 * MINUTE + 59 * SECOND, '7h59m'],
    [8 * HOUR, '8h'],
    [8 * HOUR + 59 * MINUTE, '8h'],
    [47 * HOUR + 59 * MINUTE, '47h'],
    [48 * HOUR, '2d'],
    [49 * HOUR, '2d1h'],
    [7 * DAY + 23 * HOUR + 59 * MINUTE, '7d23h'],
    [8 * DAY, '8d'],
    [8 * DAY + 23 * HOUR, '8d'],
    [729 * DAY + 23 * HOUR, '729d'],
    [730 * DAY, '2y'],
    [731 * DAY, '2y1d'],
    [(7 * 365 + 364) * DAY + 23 * HOUR, '7y364d'],
    [8 * 365 * DAY, '8y'],
    [100 * 365 * DAY + 200 * DAY, '100y'],
  ];
  it.each(cases)('%d ms → %s', (milliseconds, expected) => {
    expect(humanDuration(milliseconds)).toBe(expected);
  });

  it('tolerates up to two seconds of clock skew as "0s" and is <invalid> beyond (Go truncates toward zero)', () => {
    expect(humanDuration(-500)).toBe('0s');
    expect(humanDuration(-SECOND)).toBe('0s');
    expect(humanDuration(-1500)).toBe('0s');
    expect(humanDuration(-1999)).toBe('0s');
    expect(humanDuration(-2 * SECOND)).toBe('<invalid>');
    expect(humanDuration(-HOUR)).toBe('<invalid>');
  });
});

function resource(printerColumns: PrinterColumn[]): ResourceInfo {
  const crd: CustomResourceDefinition = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'vpcs.network.photoncloud.io' },
    spec: {
      group: 'network.photoncloud.io',
      scope: 'Namespaced',
      names: { plural: 'vpcs', kind: 'Vpc' },
      versions: [{ name: 'v1alpha1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }, additionalPrinterColumns: printerColumns }],
    },
  };
  return resourcesFromCrd(crd).resources[0];
}

const NOW = Date.parse('2024-06-01T12:00:00Z');

function vpc(name: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'network.photoncloud.io/v1alpha1',
    kind: 'Vpc',
    metadata: { name, namespace: 'prod', uid: `uid-${name}`, resourceVersion: '7', creationTimestamp: new Date(NOW - 3 * HOUR - 5 * MINUTE).toISOString(), labels: { a: 'b' } },
    ...extra,
  };
}

const columns: PrinterColumn[] = [
  { name: 'CIDR', type: 'string', jsonPath: '.spec.cidr', description: 'The range' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Subnets', type: 'string', jsonPath: '.spec.subnets', priority: 1 },
  { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
  { name: 'Ratio', type: 'number', jsonPath: '.spec.ratio', format: 'float' },
  { name: 'Public', type: 'boolean', jsonPath: '.spec.public' },
  { name: 'Created', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  { name: 'Broken', type: 'string', jsonPath: 'not a path' },
];

describe('renderTable', () => {
  it('puts Name first and keeps every printer column with its type, format, description and priority', () => {
    const table = renderTable(resource(columns), [], { resourceVersion: '42', continue: 'abc' }, 'None');
    expect(table.kind).toBe('Table');
    expect(table.apiVersion).toBe('meta.k8s.io/v1');
    expect(table.metadata).toEqual({ resourceVersion: '42', continue: 'abc' });
    expect(table.rows).toEqual([]);
    expect(table.columnDefinitions.map((column) => column.name)).toEqual(['Name', 'CIDR', 'Ready', 'Subnets', 'Size', 'Ratio', 'Public', 'Created', 'Broken']);
    expect(table.columnDefinitions[0]).toMatchObject({ name: 'Name', type: 'string', format: 'name', priority: 0 });
    expect(table.columnDefinitions[1]).toEqual({ name: 'CIDR', type: 'string', format: '', description: 'The range', priority: 0 });
    expect(table.columnDefinitions[3]).toMatchObject({ name: 'Subnets', priority: 1 });
    expect(table.columnDefinitions[5]).toMatchObject({ name: 'Ratio', type: 'number', format: 'float' });
  });

  it('renders cells by column type: dates as ages, lists of scalars comma-separated, missing values as null', () => {
    const object = vpc('main', {
      spec: { cidr: '10.0.0.0/16', subnets: ['a', 'b'], size: 3, ratio: 0.5, public: false },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
    const row = renderRow(resource(columns), object, 'None', 'meta.k8s.io/v1', NOW);
    expect(row.cells).toEqual(['main', '10.0.0.0/16', 'True', 'a,b', 3, 0.5, false, '3h5m', null]);
    expect(row).not.toHaveProperty('object');

    const empty = renderRow(resource(columns), { metadata: { name: 'bare' } }, 'None', 'meta.k8s.io/v1', NOW);
    expect(empty.cells).toEqual(['bare', null, null, null, null, null, null, null, null]);
  });

  it('renders objects and non-strings in string columns as JSON, and mismatched types as null', () => {
    const object = vpc('x', { spec: { cidr: { v4: '10.0.0.0/8' }, subnets: 4, size: 'three', ratio: 'half', public: 'yes' } });
    const row = renderRow(resource(columns), object, 'None', 'meta.k8s.io/v1', NOW);
    expect(row.cells.slice(1, 7)).toEqual(['{"v4":"10.0.0.0/8"}', null, '4', null, null, null]);
  });

  it('prints lists readably: scalars comma-separated (also several matches of [*]), objects as JSON, an empty list as nothing', () => {
    const listColumns: PrinterColumn[] = [
      { name: 'CIDRs', type: 'string', jsonPath: '.spec.cidrBlocks' },
      { name: 'Each', type: 'string', jsonPath: '.spec.cidrBlocks[*]' },
      { name: 'Ports', type: 'string', jsonPath: '.spec.ports' },
      { name: 'Rules', type: 'string', jsonPath: '.spec.rules' },
      { name: 'Hosts', type: 'string', jsonPath: '.spec.rules[*].host' },
      { name: 'None', type: 'string', jsonPath: '.spec.empty' },
      { name: 'First', type: 'integer', jsonPath: '.spec.ports[*]' },
    ];
    const object = vpc('lists', {
      spec: { cidrBlocks: ['10.0.0.0/16', '10.1.0.0/16'], ports: [80, 443], rules: [{ host: 'a' }, { host: 'b' }], empty: [] },
    });
    expect(renderRow(resource(listColumns), object, 'None', 'meta.k8s.io/v1', NOW).cells).toEqual([
      'lists', '10.0.0.0/16,10.1.0.0/16', '10.0.0.0/16,10.1.0.0/16', '80,443', '[{"host":"a"},{"host":"b"}]', 'a,b', null, 80,
    ]);
    const one = vpc('one', { spec: { cidrBlocks: ['10.0.0.0/16'], ports: [true, 'x'], rules: [[1], [2]], empty: [null] } });
    expect(renderRow(resource(listColumns), one, 'None', 'meta.k8s.io/v1', NOW).cells.slice(1, 7)).toEqual(['10.0.0.0/16', '10.0.0.0/16', 'true,x', '[[1],[2]]', null, '[null]']);
  });

  it('renders unparsable dates as <invalid>', () => {
    const object = vpc('x');
    object.metadata.creationTimestamp = 'yesterday';
    expect(renderRow(resource(columns), object, 'None', 'meta.k8s.io/v1', NOW).cells[7]).toBe('<invalid>');
  });

  it('includeObject=Metadata embeds PartialObjectMetadata of the table version', () => {
    const object = vpc('main');
    const v1 = renderTable(resource(columns), [object], {}, 'Metadata');
    expect(v1.rows[0].object).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata });
    const v1beta1 = renderTable(resource(columns), [object], {}, 'Metadata', 'meta.k8s.io/v1beta1');
    expect(v1beta1.apiVersion).toBe('meta.k8s.io/v1beta1');
    expect(v1beta1.rows[0].object).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1beta1', metadata: object.metadata });
  });

  it('includeObject=Object embeds the full object; None embeds nothing', () => {
    const object = vpc('main', { spec: { cidr: '10.0.0.0/16' } });
    expect(renderTable(resource(columns), [object], {}, 'Object').rows[0].object).toEqual(object);
    expect(renderTable(resource(columns), [object], {}, 'None').rows[0]).not.toHaveProperty('object');
  });

  it('renders one row per object in order', () => {
    const table = renderTable(resource(columns), [vpc('a'), vpc('b'), vpc('c')], {}, 'None');
    expect(table.rows.map((row) => row.cells[0])).toEqual(['a', 'b', 'c']);
  });

  it('a CRD without printer columns gets Name and Age', () => {
    const plain = resource([]);
    const recent = vpc('main');
    recent.metadata.creationTimestamp = new Date(Date.now() - 3 * HOUR - 5 * MINUTE).toISOString();
    const table = renderTable(plain, [recent], {}, 'None');
    expect(table.columnDefinitions.map((column) => [column.name, column.type, column.format])).toEqual([
      ['Name', 'string', 'name'],
      ['Age', 'date', ''],
    ]);
    expect(table.rows[0].cells[0]).toBe('main');
    expect(table.rows[0].cells[1]).toMatch(/^3h(5|6)m$/);
    expect(renderRow(plain, vpc('main'), 'None', 'meta.k8s.io/v1', NOW).cells).toEqual(['main', '3h5m']);
  });
});
