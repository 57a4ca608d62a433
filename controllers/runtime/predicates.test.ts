import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { specDeletionOrStatusChanged, specOrDeletionChanged } from './predicates.ts';

type Thing = KubeObject & { status?: { ipAddress?: string; conditions?: unknown[] } };
const thing = (metadata: Partial<KubeObject['metadata']>, status: Thing['status'] = {}): Thing => ({ apiVersion: 'v1', kind: 'Thing', metadata: { name: 't', generation: 1, ...metadata }, status });

describe('update predicates', () => {
  it('specOrDeletionChanged: a new generation or the start of deletion, not labels or status', () => {
    expect(specOrDeletionChanged(thing({}), thing({ labels: { a: 'b' } }, { ipAddress: '10.0.0.1' }))).toBe(false);
    expect(specOrDeletionChanged(thing({}), thing({ generation: 2 }))).toBe(true);
    expect(specOrDeletionChanged(thing({}), thing({ deletionTimestamp: '2026-12-07T00:00:00Z' }))).toBe(true);
  });

  it('specDeletionOrStatusChanged: also the named status fields, and only those', () => {
    const addressChanged = specDeletionOrStatusChanged<Thing>('ipAddress');
    expect(addressChanged(thing({}, { ipAddress: '10.0.0.1' }), thing({}, { ipAddress: '10.0.0.1', conditions: [{}] }))).toBe(false);
    expect(addressChanged(thing({}), thing({}, { ipAddress: '10.0.0.1' }))).toBe(true);
    expect(addressChanged(thing({}, { ipAddress: '10.0.0.1' }), thing({}, { ipAddress: '10.0.0.2' }))).toBe(true);
    expect(addressChanged(thing({}), thing({ generation: 2 }))).toBe(true);
  });
});
