import { describe, expect, it } from '@jest/globals';
import { acceptsJson, negotiateRepresentation, parseAccept } from './negotiate.ts';

const TABLE_V1 = 'application/json;as=Table;v=v1;g=meta.k8s.io';
const TABLE_V1BETA1 = 'application/json;as=Table;v=v1beta1;g=meta.k8s.io';

describe('parseAccept', () => {
  it('splits media ranges and their parameters, lower-casing the type', () => {
    expect(parseAccept('Application/JSON; as=Table ;v=v1, */*;q=0.8')).toEqual([
      { type: 'application/json', params: { as: 'Table', v: 'v1' } },
      { type: '*/*', params: { q: '0.8' } },
    ]);
    expect(parseAccept(undefined)).toEqual([]);
  });
});

describe('negotiateRepresentation', () => {
  it('plain object JSON without an Accept header, or for plain JSON', () => {
    expect(negotiateRepresentation(undefined)).toEqual({ as: 'object' });
    expect(negotiateRepresentation('application/json')).toEqual({ as: 'object' });
    expect(negotiateRepresentation('*/*')).toEqual({ as: 'object' });
  });

  it('Table v1 and v1beta1, as kubectl asks for them', () => {
    expect(negotiateRepresentation(`${TABLE_V1},${TABLE_V1BETA1},application/json`)).toEqual({ as: 'Table', apiVersion: 'meta.k8s.io/v1' });
    expect(negotiateRepresentation(`${TABLE_V1BETA1},application/json`)).toEqual({ as: 'Table', apiVersion: 'meta.k8s.io/v1beta1' });
    expect(negotiateRepresentation('application/json; as=Table; v=v1; g=meta.k8s.io')).toEqual({ as: 'Table', apiVersion: 'meta.k8s.io/v1' });
  });

  it('PartialObjectMetadata and PartialObjectMetadataList', () => {
    expect(negotiateRepresentation('application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json')).toEqual({ as: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1' });
    expect(negotiateRepresentation('application/json;as=PartialObjectMetadata;v=v1beta1;g=meta.k8s.io')).toEqual({ as: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1beta1' });
  });

  it('the first acceptable range wins: plain JSON listed first means the object', () => {
    expect(negotiateRepresentation(`application/json,${TABLE_V1}`)).toEqual({ as: 'object' });
  });

  it('skips ranges it cannot produce', () => {
    expect(negotiateRepresentation(`application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,${TABLE_V1}`)).toEqual({ as: 'Table', apiVersion: 'meta.k8s.io/v1' });
    expect(negotiateRepresentation('application/json;as=Table;v=v2;g=meta.k8s.io,application/json')).toEqual({ as: 'object' });
    expect(negotiateRepresentation('application/json;as=Table;v=v1;g=other.io')).toEqual({ as: 'object' });
    expect(negotiateRepresentation('application/json;as=Unknown;v=v1;g=meta.k8s.io,' + TABLE_V1)).toEqual({ as: 'Table', apiVersion: 'meta.k8s.io/v1' });
  });
});

describe('acceptsJson', () => {
  it('accepts JSON, YAML, wildcards, and no Accept header at all', () => {
    for (const accept of [undefined, '', 'application/json', 'application/yaml', '*/*', 'application/*', TABLE_V1, 'application/vnd.kubernetes.protobuf, application/json']) {
      expect(acceptsJson(accept)).toBe(true);
    }
  });

  it('refuses clients that only take other media types', () => {
    expect(acceptsJson('application/vnd.kubernetes.protobuf')).toBe(false);
    expect(acceptsJson('text/html')).toBe(false);
  });
});
