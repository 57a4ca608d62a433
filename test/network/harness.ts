// An API server on etcd, a real OVN central, and the network controllers (in this process, as the
// controller manager runs them), plus helpers to create network objects and wait for them to be Ready.
import { clientFromKubeconfig, NamespaceResource, type ApiClient } from '../../apis/client/index.ts';
import type { Condition, KubeObject } from '../../apis/meta/types.ts';
import { PortResource, SecurityGroupResource, SubnetResource, VpcResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { startOvnCentral, startOvnChassis, type OvnCentral, type OvnChassis } from '../env/ovn.ts';
import { waitFor } from '../env/process.ts';

export const NETWORK_CONTROLLERS = ['vpc', 'subnet', 'port', 'security-group'];

export interface NetworkEnv {
  api: TestApiServer;
  ovn: OvnCentral;
  /** A hypervisor (ovs-vswitchd + ovn-controller) for real packets, when asked for. */
  chassis?: OvnChassis;
  client: ApiClient;
  manager?: ControllerManager;
  startControllers(): void;
  stopControllers(): Promise<void>;
  stop(): Promise<void>;
}

/** leaderElect: run the manager as production does, on its leader Lease (which also announces its finalizers). */
export async function startNetworkEnv(options: { chassis?: boolean; controllers?: string[]; leaderElect?: boolean } = {}): Promise<NetworkEnv> {
  const [api, ovn] = await Promise.all([startTestApiServer({ storage: 'etcd' }), startOvnCentral()]);
  const chassis = options.chassis ? await startOvnChassis(ovn, { name: `chassis-${process.pid}` }) : undefined;
  const client = clientFromKubeconfig(api.kubeconfig, { component: 'network-test' });
  const env: NetworkEnv = {
    api,
    ovn,
    chassis,
    client,
    startControllers() {
      env.manager = startControllerManager({ kubeconfig: api.kubeconfig, ovnNorthbound: ovn.nbEndpoint, ovnSouthbound: ovn.sbEndpoint, leaderElect: options.leaderElect ?? false, controllers: options.controllers ?? NETWORK_CONTROLLERS, metricsAddress: '127.0.0.1:0' });
    },
    async stopControllers() {
      await env.manager?.stop();
      env.manager = undefined;
    },
    async stop() {
      await env.stopControllers();
      client.close();
      await Promise.all([api.stop(), ovn.stop()]);
    },
  };
  env.startControllers();
  return env;
}

type Kind = 'Vpc' | 'Subnet' | 'Port' | 'SecurityGroup';
const RESOURCES = { Vpc: VpcResource, Subnet: SubnetResource, Port: PortResource, SecurityGroup: SecurityGroupResource } as const;

export async function create(env: Pick<NetworkEnv, 'client'>, kind: Kind, namespace: string, name: string, spec: Record<string, unknown>): Promise<KubeObject> {
  const resource = RESOURCES[kind];
  return env.client.create(resource, { apiVersion: resource.apiVersion, kind, metadata: { name, namespace }, spec } as KubeObject);
}

export async function namespace(env: Pick<NetworkEnv, 'client'>, name: string): Promise<void> {
  await env.client.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

export function readyCondition(object: KubeObject | undefined) {
  return findCondition((object?.status as { conditions?: Condition[] } | undefined)?.conditions, 'Ready');
}

/** Waits until the object's Ready condition is True for its current generation; returns it. */
export async function waitReady(env: Pick<NetworkEnv, 'client'>, kind: Kind, namespace: string, name: string, timeoutMs = 30_000): Promise<KubeObject> {
  return waitFor(`${kind} ${namespace}/${name} Ready`, async () => {
    const object = await env.client.get(RESOURCES[kind], name, { namespace });
    const ready = readyCondition(object);
    const status = object.status as { observedGeneration?: number } | undefined;
    return ready?.status === 'True' && status?.observedGeneration === object.metadata.generation ? object : undefined;
  }, { timeoutMs, intervalMs: 100 });
}

/** Waits until Ready=False with this reason; returns the object. */
export async function waitReason(env: Pick<NetworkEnv, 'client'>, kind: Kind, namespace: string, name: string, reason: string, timeoutMs = 30_000): Promise<KubeObject> {
  return waitFor(`${kind} ${namespace}/${name} Ready=False ${reason}`, async () => {
    const object = await env.client.get(RESOURCES[kind], name, { namespace });
    return readyCondition(object)?.status === 'False' && readyCondition(object)?.reason === reason ? object : undefined;
  }, { timeoutMs, intervalMs: 100 });
}

export function portAddress(port: KubeObject): { ip: string; mac: string; uid: string } {
  const status = (port as unknown as Port).status!;
  return { ip: status.ipAddress!, mac: status.macAddress!, uid: port.metadata.uid! };
}
