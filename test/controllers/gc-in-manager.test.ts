// The garbage collector as the controller manager runs it, beside the network controllers: it uses the
// manager's shared informers, so the API server sees one watch per resource from the manager (the GC used to
// open a second one on every kind the network controllers watch), and its queue and reconciles show on the
// manager's /metrics under `garbage-collector`. No OVN here: the network controllers only need their
// informers for this, and owners and dependents are ConfigMaps, which no finalizer holds.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clientFromKubeconfig, ConfigMapResource, groupResourceOf, NamespaceResource, type ApiClient, type ConfigMap } from '../../apis/client/index.ts';
import { discover } from '../../controllers/gc/discovery.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';

const NS = 'gc-manager';

/** `name{labels} value` lines of a Prometheus text exposition, for one metric. */
function samples(text: string, metric: string): Array<{ labels: Record<string, string>; value: number }> {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `))
    .map((line) => {
      const labels: Record<string, string> = {};
      for (const [, key, value] of line.matchAll(/(\w+)="([^"]*)"/g)) labels[key] = value;
      return { labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) };
    });
}

describe('garbage collector in the controller manager', () => {
  let env: TestApiServer;
  let client: ApiClient;
  let manager: ControllerManager;

  /** Open watches at the API server, by `<resource>.<group>`. */
  const openWatches = async () => {
    const text = (await env.kubectl(['get', '--raw', '/metrics'])).stdout;
    return new Map(samples(text, 'apiserver_longrunning_requests').map(({ labels, value }) => [groupResourceOf({ group: labels.group, plural: labels.resource }), value]));
  };
  const managerMetrics = async () => (await fetch(`http://127.0.0.1:${await manager.metricsPort()}/metrics`)).text();
  const configMap = (name: string, owner?: ConfigMap) =>
    client.create<ConfigMap>(ConfigMapResource, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: NS, ownerReferences: owner && [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner.metadata.name!, uid: owner.metadata.uid! }] },
      data: {},
    });

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    client = clientFromKubeconfig(env.kubeconfig, { component: 'gc-manager-test' });
    await client.create(NamespaceResource, { metadata: { name: NS } });
    manager = startControllerManager({ kubeconfig: env.kubeconfig, ovnNorthbound: `unix:${env.home}/no-ovn/nb.sock`, leaderElect: false, metricsAddress: '127.0.0.1:0' });
  });
  afterAll(async () => {
    await manager?.stop();
    client?.close();
    await env?.stop();
  });

  it('opens one watch per resource: the GC and the network controllers share the manager informers', async () => {
    const collected = (await discover(client)).resources.map(groupResourceOf).filter((id) => id !== 'events' && id !== 'events.events.k8s.io');
    const network = ['vpcs', 'subnets', 'ports', 'securitygroups'].map((plural) => `${plural}.network.photoncloud.io`);
    expect(collected).toEqual(expect.arrayContaining([...network, 'configmaps', 'namespaces']));
    // Every kind the GC collects is watched (its informers are up), the network kinds among them.
    const watches = await waitFor('a watch on every kind', async () => {
      const open = await openWatches();
      return collected.every((id) => (open.get(id) ?? 0) >= 1) ? open : undefined;
    });
    for (const id of collected) expect([id, watches.get(id)]).toEqual([id, 1]);
    // Nothing else watches more than once either.
    expect([...watches].filter(([, count]) => count > 1)).toEqual([]);
  });

  it('collects through the manager; its queue and reconciles show on the manager /metrics as garbage-collector', async () => {
    const owner = await configMap('owner');
    await configMap('dependent', owner);
    await client.delete(ConfigMapResource, 'owner', { namespace: NS });
    await waitFor('the dependent collected', async () => !(await client.list(ConfigMapResource, { namespace: NS })).items.some((item) => item.metadata.name === 'dependent'));
    const text = await managerMetrics();
    const reconciles = samples(text, 'photon_controller_reconcile_total').filter(({ labels }) => labels.controller === 'garbage-collector');
    expect(reconciles.find(({ labels }) => labels.result === 'success')?.value).toBeGreaterThan(0);
    expect(samples(text, 'photon_controller_reconcile_duration_seconds_count').find(({ labels }) => labels.controller === 'garbage-collector')?.value).toBeGreaterThan(0);
    expect(samples(text, 'photon_workqueue_depth').some(({ labels }) => labels.name === 'garbage-collector')).toBe(true);
    expect(samples(text, 'photon_workqueue_adds_total').find(({ labels }) => labels.name === 'garbage-collector')?.value).toBeGreaterThan(0);
  });
});
