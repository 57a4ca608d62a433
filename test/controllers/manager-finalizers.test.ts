// The controller manager as production runs it (every controller, leader election): its Lease announces the
// finalizer of every kind a controller keeps one on, so the API server adds it at create
// (apiserver/admission/controller-finalizers.ts). A controller wrapped with extra loops (load balancers,
// volumes, zones) must announce too: the load-balancer bench waited for it in vain once. No OVN, DNS or
// Ceph here: announcing needs none of them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clientFromKubeconfig, NamespaceResource, type ApiClient } from '../../apis/client/index.ts';
import { VpcResource, type Vpc } from '../../apis/network/v1alpha1/index.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitForAnnouncedFinalizers } from '../env/announced-finalizers.ts';

/** Every kind whose controller keeps a finalizer on each object, and that finalizer. */
const EXPECTED: Record<string, string> = {
  'vpcs.network.photoncloud.io': 'network.photoncloud.io/ovn',
  'subnets.network.photoncloud.io': 'network.photoncloud.io/ovn',
  'ports.network.photoncloud.io': 'network.photoncloud.io/ovn',
  'securitygroups.network.photoncloud.io': 'network.photoncloud.io/ovn',
  'virtualmachines.compute.photoncloud.io': 'compute.photoncloud.io/ports',
  'loadbalancers.lb.photoncloud.io': 'lb.photoncloud.io/ovn',
  'zones.dns.photoncloud.io': 'dns.photoncloud.io/records',
  'storageclasses.storage.photoncloud.io': 'storage.photoncloud.io/class',
  'volumes.storage.photoncloud.io': 'storage.photoncloud.io/volume',
  'volumesnapshots.storage.photoncloud.io': 'storage.photoncloud.io/snapshot',
  'buckets.storage.photoncloud.io': 'storage.photoncloud.io/bucket',
  'projects.iam.photoncloud.io': 'iam.photoncloud.io/namespace',
  'organizations.iam.photoncloud.io': 'iam.photoncloud.io/projects',
};

describe('the controller manager announces its finalizers', () => {
  let env: TestApiServer;
  let client: ApiClient;
  let manager: ControllerManager;

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    client = clientFromKubeconfig(env.kubeconfig, { component: 'manager-finalizers-test' });
    manager = startControllerManager({ kubeconfig: env.kubeconfig, ovnNorthbound: `unix:${env.home}/no-ovn/nb.sock`, metricsAddress: '127.0.0.1:0' });
  });
  afterAll(async () => {
    await manager?.stop();
    client?.close();
    await env?.stop();
  });

  it('for every kind a controller keeps a finalizer on, and a create then carries it', async () => {
    const announced = await waitForAnnouncedFinalizers(client, Object.keys(EXPECTED));
    for (const [resource, finalizer] of Object.entries(EXPECTED)) expect({ resource, finalizers: announced.get(resource) }).toEqual({ resource, finalizers: [finalizer] });
    await client.create(NamespaceResource, { metadata: { name: 'announced' } });
    const vpc = await client.create<Vpc>(VpcResource, { apiVersion: VpcResource.apiVersion, kind: 'Vpc', metadata: { name: 'v', namespace: 'announced' }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
    expect(vpc.metadata.finalizers).toEqual(['network.photoncloud.io/ovn']);
  });
});
