import { describe, expect, it } from '@jest/globals';
import type { StorageClass, StorageClassSpec } from './storageclass.ts';
import { defaultStorageClass, formatBytes, MAX_VOLUME_BYTES, poolOf, storageClassSpecProblems, volumeBytes, volumeSpecProblems } from './validation.ts';

const MI = 1024 ** 2;
const GI = 1024 ** 3;
const storageClass = (name: string, spec: Partial<StorageClassSpec> = {}, meta: { created?: string; deleting?: boolean } = {}): StorageClass => ({
  apiVersion: 'storage.photoncloud.io/v1alpha1',
  kind: 'StorageClass',
  metadata: { name, uid: `${name}-uid`, creationTimestamp: meta.created ?? '2026-01-01T00:00:00Z', ...(meta.deleting ? { deletionTimestamp: '2026-02-01T00:00:00Z' } : {}) },
  spec: { backend: 'ceph-rbd', ceph: {}, ...spec },
});

describe('volumeBytes', () => {
  it.each<[string | undefined, number | undefined]>([
    ['10Gi', 10 * GI],
    ['1Mi', MI],
    ['1', MI], // one byte rounds up to a whole MiB
    ['1Ki', MI],
    [`${MI + 1}`, 2 * MI],
    ['1536Ki', 2 * MI],
    ['1.5Gi', 1.5 * GI],
    ['1G', 954 * MI], // 10^9 bytes = 953.67 MiB, rounded up
    ['0', 0],
    ['0.5', MI], // a fraction of a byte is a byte, then a MiB
    [undefined, undefined],
    ['', undefined],
    ['-1Gi', undefined],
    ['10GB', undefined],
    ['ten', undefined],
    ['8Pi', undefined], // past 2^53 bytes: not a size at all rather than rounded
  ])('%j → %j', (size, bytes) => {
    expect(volumeBytes(size)).toBe(bytes);
  });
});

describe('formatBytes', () => {
  it.each<[number, string]>([
    [GI, '1Gi'],
    [1572864, '1536Ki'],
    [1024 ** 4 * 256, '256Ti'],
    [3 * MI, '3Mi'],
    [1536 * MI, '1536Mi'],
    [1024, '1Ki'],
    [1000, '1000'],
    [0, '0'],
  ])('%d → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('poolOf', () => {
  it('the class pool, or photon-<class name>', () => {
    expect(poolOf(storageClass('fast', { ceph: { pool: 'ssd' } }))).toBe('ssd');
    expect(poolOf(storageClass('fast'))).toBe('photon-fast');
    expect(poolOf(storageClass('fast', { ceph: undefined }))).toBe('photon-fast');
  });
});

describe('storageClassSpecProblems', () => {
  it('none for a ceph-rbd class with parameters, a local class without, or no spec', () => {
    expect(storageClassSpecProblems({ backend: 'ceph-rbd', ceph: { pool: 'p', replicas: 2 } })).toEqual([]);
    expect(storageClassSpecProblems({ backend: 'ceph-rbd', ceph: {} })).toEqual([]);
    expect(storageClassSpecProblems({ backend: 'local' })).toEqual([]);
    expect(storageClassSpecProblems(undefined)).toEqual([]);
  });

  it('ceph-rbd without spec.ceph, or spec.ceph on another backend, names spec.ceph', () => {
    expect(storageClassSpecProblems({ backend: 'ceph-rbd' })).toEqual([{ field: 'spec.ceph', value: null, message: 'required when backend is ceph-rbd (the pool and replication of its Volumes)' }]);
    expect(storageClassSpecProblems({ backend: 'local', ceph: { pool: 'p' } })).toEqual([{ field: 'spec.ceph', value: { pool: 'p' }, message: 'only goes with backend ceph-rbd (this class is local)' }]);
  });
});

describe('volumeSpecProblems', () => {
  it('none for a valid spec, alone or as an update', () => {
    expect(volumeSpecProblems({ size: '10Gi' })).toEqual([]);
    expect(volumeSpecProblems({ size: '10Gi', source: { snapshotRef: 's' }, flatten: true }, { size: '10Gi', source: { snapshotRef: 's' } })).toEqual([]);
    expect(volumeSpecProblems(undefined)).toEqual([]);
  });

  it.each(['0', '0Gi', 'big', '', '-1Gi', '1.5.5Gi', '0'.repeat(31)])('refuses size %j', (size) => {
    expect(volumeSpecProblems({ size })).toEqual([{ field: 'spec.size', value: size, message: 'must be a positive size, e.g. 10Gi' }]);
  });

  it('refuses a size past 256Ti, and takes 256Ti itself', () => {
    expect(volumeSpecProblems({ size: '257Ti' })).toEqual([{ field: 'spec.size', value: '257Ti', message: 'must be at most 256Ti' }]);
    expect(volumeSpecProblems({ size: '1Pi' })).toEqual([{ field: 'spec.size', value: '1Pi', message: 'must be at most 256Ti' }]);
    expect(volumeSpecProblems({ size: '256Ti' })).toEqual([]);
    // Sizes past 2^53 bytes do not parse at all; they are still too big, not malformed.
    expect(volumeSpecProblems({ size: '10Pi' })).toEqual([{ field: 'spec.size', value: '10Pi', message: 'must be at most 256Ti' }]);
    expect(volumeSpecProblems({ size: '9'.repeat(31) })).toEqual([{ field: 'spec.size', value: '9'.repeat(31), message: 'must be at most 256Ti' }]);
    expect(volumeBytes('256Ti')).toBe(MAX_VOLUME_BYTES);
  });

  it('refuses both imageRef and snapshotRef', () => {
    const source = { imageRef: 'debian', snapshotRef: 'nightly' };
    expect(volumeSpecProblems({ size: '10Gi', source })).toEqual([{ field: 'spec.source', value: source, message: 'give at most one of imageRef and snapshotRef' }]);
    expect(volumeSpecProblems({ size: '10Gi', source: { imageRef: 'debian' } })).toEqual([]);
  });

  it('refuses a shrink, naming spec.size and the old size', () => {
    expect(volumeSpecProblems({ size: '5Gi' }, { size: '10Gi' })).toEqual([
      { field: 'spec.size', value: '5Gi', message: 'a Volume grows but never shrinks (it is 10Gi): copy its data into a smaller Volume instead' },
    ]);
    // Even when the class allows expansion.
    expect(volumeSpecProblems({ size: '10239Mi' }, { size: '10Gi' }, storageClass('fast', { allowVolumeExpansion: true }))).toHaveLength(1);
  });

  it('compares whole MiB: the same size written another way, or rounding to the same MiB, is no change', () => {
    expect(volumeSpecProblems({ size: '1024Mi' }, { size: '1Gi' }, storageClass('fixed', { allowVolumeExpansion: false }))).toEqual([]);
    expect(volumeSpecProblems({ size: '1048575' }, { size: '1Mi' })).toEqual([]);
  });

  it('growth: allowed unless the class says allowVolumeExpansion: false', () => {
    expect(volumeSpecProblems({ size: '20Gi' }, { size: '10Gi' })).toEqual([]);
    expect(volumeSpecProblems({ size: '20Gi' }, { size: '10Gi' }, storageClass('fast'))).toEqual([]);
    expect(volumeSpecProblems({ size: '20Gi' }, { size: '10Gi' }, storageClass('fast', { allowVolumeExpansion: true }))).toEqual([]);
    expect(volumeSpecProblems({ size: '20Gi' }, { size: '10Gi' }, storageClass('fixed', { allowVolumeExpansion: false }))).toEqual([
      { field: 'spec.size', value: '20Gi', message: 'StorageClass fixed does not allow Volumes to grow (allowVolumeExpansion is false)' },
    ]);
  });

  it('a flattened Volume stays flattened', () => {
    expect(volumeSpecProblems({ size: '10Gi', flatten: false }, { size: '10Gi', flatten: true })).toEqual([{ field: 'spec.flatten', value: false, message: 'a flattened Volume stays flattened' }]);
    expect(volumeSpecProblems({ size: '10Gi' }, { size: '10Gi', flatten: true })).toEqual([{ field: 'spec.flatten', value: false, message: 'a flattened Volume stays flattened' }]);
    expect(volumeSpecProblems({ size: '10Gi', flatten: true }, { size: '10Gi', flatten: false })).toEqual([]);
  });

  it('reports every problem at once', () => {
    const problems = volumeSpecProblems({ size: '1Gi', source: { imageRef: 'i', snapshotRef: 's' } }, { size: '2Gi', flatten: true });
    expect(problems.map((problem) => problem.field)).toEqual(['spec.source', 'spec.size', 'spec.flatten']);
  });
});

describe('defaultStorageClass', () => {
  it('none when no class is marked default', () => {
    expect(defaultStorageClass([])).toBeUndefined();
    expect(defaultStorageClass([storageClass('a'), storageClass('b', { default: false })])).toBeUndefined();
  });

  it('the oldest default, whatever the order', () => {
    const older = storageClass('zz', { default: true }, { created: '2025-06-01T00:00:00Z' });
    const newer = storageClass('aa', { default: true }, { created: '2026-01-01T00:00:00Z' });
    const plain = storageClass('old', {}, { created: '2020-01-01T00:00:00Z' });
    expect(defaultStorageClass([newer, plain, older])?.metadata.name).toBe('zz');
    expect(defaultStorageClass([older, newer])?.metadata.name).toBe('zz');
  });

  it('ties by name', () => {
    expect(defaultStorageClass([storageClass('b', { default: true }), storageClass('a', { default: true })])?.metadata.name).toBe('a');
  });

  it('skips classes being deleted', () => {
    const deleting = storageClass('old', { default: true }, { created: '2020-01-01T00:00:00Z', deleting: true });
    const live = storageClass('new', { default: true }, { created: '2026-01-01T00:00:00Z' });
    expect(defaultStorageClass([deleting, live])?.metadata.name).toBe('new');
    expect(defaultStorageClass([deleting])).toBeUndefined();
  });
});
