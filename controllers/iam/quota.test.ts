import { describe, expect, it } from '@jest/globals';
import { ApiStatusError } from '../../apis/client/index.ts';
import { isNotServed, projectQuotaHard } from './quota.ts';

describe('projectQuotaHard', () => {
  it('maps every spec.quota key to a ResourceQuota hard limit, quantities as strings', () => {
    expect(projectQuotaHard({ virtualMachines: 20, cpuCores: 64, memory: '256Gi', ports: 100, loadBalancers: 5, buckets: 10, storage: '4Ti' })).toEqual({
      'count/virtualmachines.compute.photoncloud.io': '20',
      'requests.cpu': '64',
      'requests.memory': '256Gi',
      'count/ports.network.photoncloud.io': '100',
      'count/loadbalancers.lb.photoncloud.io': '5',
      'count/buckets.storage.photoncloud.io': '10',
      'requests.storage': '4Ti',
    });
  });

  it('keeps a zero limit (nothing allowed) and leaves out omitted keys (unlimited)', () => {
    expect(projectQuotaHard({ virtualMachines: 0 })).toEqual({ 'count/virtualmachines.compute.photoncloud.io': '0' });
  });

  it('is undefined when there is nothing to limit', () => {
    expect(projectQuotaHard(undefined)).toBeUndefined();
    expect(projectQuotaHard({})).toBeUndefined();
  });
});

describe('isNotServed', () => {
  const status = (details?: { name: string }) => new ApiStatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 404, reason: 'NotFound', message: 'x', ...(details ? { details } : {}) });
  it('tells an unknown resource (no object named) from a missing object', () => {
    expect(isNotServed(status())).toBe(true);
    expect(isNotServed(status({ name: 'project-quota' }))).toBe(false);
    expect(isNotServed(new Error('connection refused'))).toBe(false);
  });
});
