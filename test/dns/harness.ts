// The DNS tests' environment: an API server on etcd, a real OVN central (private zones), a real PowerDNS
// (public zones), and the zone-controller with the network controllers, in this process as the controller
// manager runs them; a short resync so drift is repaired within a test's patience.
import { clientFromKubeconfig, NamespaceResource, type ApiClient } from '../../apis/client/index.ts';
import { ZoneResource, type Zone } from '../../apis/dns/v1alpha1/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { startTestPowerDns, type TestPowerDns } from '../env/dns.ts';
import { startOvnCentral, startOvnChassis, type OvnCentral, type OvnChassis } from '../env/ovn.ts';
import { waitFor } from '../env/process.ts';

export const NAMESERVERS = ['ns1.photon.test.', 'ns2.photon.test.'];
export const DNS_CONTROLLERS = ['vpc', 'subnet', 'port', 'security-group', 'zone'];

export interface DnsEnv {
  api: TestApiServer;
  ovn: OvnCentral;
  pdns: TestPowerDns;
  chassis?: OvnChassis;
  client: ApiClient;
  manager: ControllerManager;
  stop(): Promise<void>;
}

export async function startDnsEnv(options: { chassis?: boolean; controllers?: string[] } = {}): Promise<DnsEnv> {
  const [api, ovn, pdns] = await Promise.all([startTestApiServer({ storage: 'etcd' }), startOvnCentral(), startTestPowerDns()]);
  const chassis = options.chassis ? await startOvnChassis(ovn, { name: `dns-chassis-${process.pid}` }) : undefined;
  const client = clientFromKubeconfig(api.kubeconfig, { component: 'dns-test' });
  const manager = startControllerManager({
    kubeconfig: api.kubeconfig,
    ovnNorthbound: ovn.nbEndpoint,
    leaderElect: false,
    controllers: options.controllers ?? DNS_CONTROLLERS,
    metricsAddress: '127.0.0.1:0',
    dns: { ...pdns.options, nameservers: NAMESERVERS, nameserverAddresses: [`127.0.0.1:${pdns.port}`], resyncMs: 1000, orphanCleanupMs: 1000 },
  });
  return {
    api,
    ovn,
    pdns,
    chassis,
    client,
    manager,
    async stop() {
      await manager.stop();
      client.close();
      await Promise.all([api.stop(), ovn.stop(), pdns.stop()]);
    },
  };
}

export async function namespace(env: DnsEnv, name: string): Promise<void> {
  await env.client.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

export const zone = (namespace: string, name: string, spec: Record<string, unknown>) => ({ apiVersion: 'dns.photoncloud.io/v1alpha1', kind: 'Zone', metadata: { name, namespace }, spec });

export async function getZone(env: DnsEnv, namespace: string, name: string): Promise<Zone & KubeObject> {
  return (await env.client.get(ZoneResource, name, { namespace })) as Zone & KubeObject;
}

/** Waits until the Zone's Ready condition has this status (and reason, if given) for its current generation. */
export async function waitZone(env: DnsEnv, namespace: string, name: string, status: 'True' | 'False', reason?: string, timeoutMs = 30_000): Promise<Zone & KubeObject> {
  return waitFor(`Zone ${namespace}/${name} Ready=${status}${reason ? ` ${reason}` : ''}`, async () => {
    const object = await getZone(env, namespace, name).catch(() => undefined);
    const ready = findCondition(object?.status?.conditions, 'Ready');
    const current = object?.status?.observedGeneration === object?.metadata.generation;
    return ready?.status === status && current && (!reason || ready.reason === reason) ? object : undefined;
  }, { timeoutMs, intervalMs: 100 });
}
