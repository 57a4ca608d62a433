// Who may serve a domain (the first project to claim it; parents and children refused unless delegated;
// the name freed by deletion) and automatic records that follow their objects: a Port's address, a
// LoadBalancer's VIP (written here as the load-balancer controller writes it), gone with the object.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LoadBalancerResource, type LoadBalancer } from '../../apis/lb/v1alpha1/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';
import { namespace, startDnsEnv, waitZone, zone, type DnsEnv } from './harness.ts';

describe('domain claims and automatic records', () => {
  let env: DnsEnv;
  const apply = async (...objects: object[]) => kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) }));
  const answer = (name: string, type = 'A') => env.pdns.dig(name, type);
  const waitAnswer = (name: string, expected: string[], type = 'A') =>
    waitFor(`${name} ${type} → ${expected.join(',') || 'nothing'}`, async () => JSON.stringify((await answer(name, type)).sort()) === JSON.stringify(expected), { timeoutMs: 20_000, intervalMs: 100 });

  beforeAll(async () => {
    env = await startDnsEnv();
    for (const name of ['first', 'second']) await namespace(env, name);
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('gives a domain to the first project: the same domain, a parent or a child elsewhere is refused without naming the holder', async () => {
    await apply(zone('first', 'app', { domain: 'app.corp.test.', records: [{ name: 'www', type: 'A', values: ['192.0.2.1'] }] }));
    await waitZone(env, 'first', 'app', 'True');
    await apply(
      zone('second', 'same', { domain: 'app.corp.test.', records: [{ name: 'www', type: 'A', values: ['203.0.113.66'] }] }),
      zone('second', 'parent', { domain: 'corp.test.' }),
      zone('second', 'child', { domain: 'x.app.corp.test.', records: [{ name: 'www', type: 'A', values: ['203.0.113.67'] }] }),
    );
    for (const name of ['same', 'parent', 'child']) {
      const refused = await waitZone(env, 'second', name, 'False', 'DomainTaken');
      const message = findCondition(refused.status?.conditions, 'Ready')!.message;
      expect(message).toMatch(/another project/);
      expect(message).not.toContain('first');
      expect(message).not.toMatch(/\bapp\b.*Zone/);
    }
    // The holder's answers are untouched by the refused zones.
    expect(await answer('www.app.corp.test')).toEqual(['192.0.2.1']);
    expect(await answer('www.x.app.corp.test')).toEqual([]);
    // Deleting a refused zone takes nothing of the holder's with it.
    await apply(zone('second', 'dup', { domain: 'app.corp.test.' }));
    await waitZone(env, 'second', 'dup', 'False', 'DomainTaken');
    kubectlOk(await env.api.kubectl(['delete', 'zone', 'dup', '-n', 'second', '--wait=true']));
    expect(await answer('www.app.corp.test')).toEqual(['192.0.2.1']);
    // Inside the holder's own project a child zone is fine.
    await apply(zone('first', 'sub', { domain: 'sub.app.corp.test.', records: [{ name: 'db', type: 'A', values: ['192.0.2.2'] }] }));
    await waitZone(env, 'first', 'sub', 'True');
    await waitAnswer('db.sub.app.corp.test', ['192.0.2.2']);
  });

  it('lets the holder delegate a child to another project, and frees the name when its zones are deleted', async () => {
    await apply(zone('first', 'app', { domain: 'app.corp.test.', records: [{ name: 'www', type: 'A', values: ['192.0.2.1'] }, { name: 'host.x', type: 'A', values: ['192.0.2.9'] }], delegations: [{ name: 'x', namespace: 'second' }] }));
    const child = await waitZone(env, 'second', 'child', 'True');
    expect(child.status?.serial).toBeGreaterThan(0);
    await waitAnswer('www.x.app.corp.test', ['203.0.113.67']);
    // The parent publishes the cut (NS), and its own records below it are not served any more.
    await waitFor('the parent\'s records below the cut withdrawn', async () => {
      const transfer = (await env.pdns.digFull('app.corp.test', 'AXFR')).stdout;
      return transfer.includes('www.app.corp.test.') && !transfer.includes('host.x.app.corp.test');
    }, { timeoutMs: 10_000, intervalMs: 100 });
    const parent = await waitZone(env, 'first', 'app', 'True');
    expect(parent.status?.records).toContainEqual({ name: 'x.app.corp.test.', type: 'NS', values: ['ns1.photon.test.', 'ns2.photon.test.'], source: 'delegation' });

    kubectlOk(await env.api.kubectl(['delete', 'zone', 'app', 'sub', '-n', 'first', '--wait=true']));
    await waitZone(env, 'second', 'same', 'True');
    await waitAnswer('www.app.corp.test', ['203.0.113.66']);
    await waitZone(env, 'second', 'parent', 'True');
  });

  it('publishes a Port\'s address and a LoadBalancer\'s VIP, follows changes and removes them with the object', async () => {
    await apply(
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: 'first' }, spec: { cidrBlocks: ['10.0.0.0/16'] } },
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'web', namespace: 'first' }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24' } },
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Port', metadata: { name: 'db-1', namespace: 'first' }, spec: { subnetRef: 'web', ipAddress: '10.0.1.20' } },
      zone('first', 'auto', { domain: 'auto.test.', autoRecords: { ports: true, loadBalancers: true }, records: [{ name: 'pinned', type: 'A', values: ['192.0.2.50'] }] }),
    );
    await waitAnswer('db-1.auto.test', ['10.0.1.20']);
    const ready = await waitZone(env, 'first', 'auto', 'True');
    expect(ready.status?.records).toContainEqual({ name: 'db-1.auto.test.', type: 'A', values: ['10.0.1.20'], source: 'Port/db-1' });

    // A LoadBalancer named like a hand-written record does not replace it (spec wins).
    const lb = (await env.client.create(LoadBalancerResource, { apiVersion: 'lb.photoncloud.io/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'front', namespace: 'first' }, spec: { subnetRef: 'web', listeners: [{ name: 'http', port: 80, targetPort: 8080 }], backends: { selector: { app: 'web' } } } } as unknown as LoadBalancer)) as LoadBalancer & KubeObject;
    expect(await answer('front.auto.test')).toEqual([]);
    const withVip = await env.client.updateStatus(LoadBalancerResource, { ...lb, status: { vipAddress: '10.0.1.100' } });
    await waitAnswer('front.auto.test', ['10.0.1.100']);
    await env.client.updateStatus(LoadBalancerResource, { ...withVip, status: { vipAddress: '10.0.1.101' } });
    await waitAnswer('front.auto.test', ['10.0.1.101']);

    kubectlOk(await env.api.kubectl(['delete', 'loadbalancer/front', 'port/db-1', '-n', 'first', '--wait=true']));
    await waitAnswer('front.auto.test', []);
    await waitAnswer('db-1.auto.test', []);
    expect(await answer('pinned.auto.test')).toEqual(['192.0.2.50']);
    const after = await waitZone(env, 'first', 'auto', 'True');
    expect(after.status?.records?.map((record) => record.source)).not.toContain('Port/db-1');
  });
});
