import { describe, expect, it } from '@jest/globals';
import { ApiClient, LineSplitter, resourcePath } from './client.ts';
import { ApiStatusError, isAlreadyExists, isConflict, isGone, isNotFound, statusFromResponse } from './errors.ts';
import { apiVersionOf, LeaseResource, NamespaceResource } from './resources.ts';

const Vpcs = { group: 'network.photoncloud.io', version: 'v1alpha1', plural: 'vpcs', namespaced: true, kind: 'Vpc' };

describe('client pieces', () => {
  it('builds resource paths for core, grouped, namespaced and cluster-scoped kinds', () => {
    expect(resourcePath(Vpcs, 'ns', 'a', 'status')).toBe('/apis/network.photoncloud.io/v1alpha1/namespaces/ns/vpcs/a/status');
    expect(resourcePath(Vpcs, undefined)).toBe('/apis/network.photoncloud.io/v1alpha1/vpcs');
    expect(resourcePath(NamespaceResource, 'ignored', 'default')).toBe('/api/v1/namespaces/default');
    expect(resourcePath(LeaseResource, 'photon-system', 'x')).toBe('/apis/coordination.k8s.io/v1/namespaces/photon-system/leases/x');
    expect(resourcePath(Vpcs, 'ns', 'a b/c')).toBe('/apis/network.photoncloud.io/v1alpha1/namespaces/ns/vpcs/a%20b%2Fc');
    expect(() => resourcePath(Vpcs, 'ns', '')).toThrow('name is required');
    expect(apiVersionOf(NamespaceResource)).toBe('v1');
    expect(apiVersionOf(Vpcs)).toBe('network.photoncloud.io/v1alpha1');
  });

  it('splits watch lines across chunk boundaries', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter();
    splitter.push('{"type":"ADD', (line) => lines.push(line));
    splitter.push('ED"}\n{"type":"BOOKMARK"}\n\n{"ty', (line) => lines.push(line));
    splitter.push('pe":"DELETED"}', (line) => lines.push(line));
    splitter.flush((line) => lines.push(line));
    expect(lines).toEqual(['{"type":"ADDED"}', '{"type":"BOOKMARK"}', '{"type":"DELETED"}']);
  });

  it('turns error bodies into ApiStatusError, Status or not', () => {
    const conflict = new ApiStatusError(statusFromResponse(409, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 409, reason: 'Conflict', message: 'stale' })), { method: 'PUT', path: '/x' });
    expect([conflict.code, conflict.reason, conflict.message, conflict.request]).toEqual([409, 'Conflict', 'stale', 'PUT /x']);
    expect(isConflict(conflict)).toBe(true);
    expect(isAlreadyExists(conflict)).toBe(false);
    const html = new ApiStatusError(statusFromResponse(503, '<html>bad gateway</html>'));
    expect([html.code, html.reason, html.message]).toEqual([503, 'ServiceUnavailable', 'HTTP 503: <html>bad gateway</html>']);
    expect(isGone(new ApiStatusError(statusFromResponse(410, '')))).toBe(true);
    expect(isNotFound(new Error('404'))).toBe(false);
  });

  it('keeps the token out of inspection and JSON', () => {
    const client = new ApiClient({ server: 'https://127.0.0.1:1', token: 'very-secret' }, { component: 'unit' });
    expect(JSON.stringify(client)).not.toContain('very-secret');
    expect(String(Object.values(client))).not.toContain('very-secret');
    expect(client.userAgent).toBe('photon/unit');
    client.close();
  });
});
