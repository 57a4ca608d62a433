// What the network controllers share: the API client, shared informers, the OVN NB connection, and the
// finalizer that makes every network object wait for its OVN rows to be removed.
import type { ApiClient } from '../../apis/client/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { PortResource, SecurityGroupResource, SubnetResource, VpcResource, type Port, type SecurityGroup, type Subnet, type Vpc } from '../../apis/network/v1alpha1/index.ts';
import type { Owner } from '../../agents/ovn-nb/index.ts';
import type { InformerCache } from '../runtime/informer.ts';
import type { NorthboundConnection } from './northbound.ts';

export const OVN_FINALIZER = 'network.photoncloud.io/ovn';

export interface NetworkDeps {
  client: ApiClient;
  informers: InformerCache;
  northbound: NorthboundConnection;
}

export function networkInformers(informers: InformerCache) {
  return {
    vpcs: informers.informerFor<Vpc & KubeObject>(VpcResource),
    subnets: informers.informerFor<Subnet & KubeObject>(SubnetResource),
    ports: informers.informerFor<Port & KubeObject>(PortResource),
    securityGroups: informers.informerFor<SecurityGroup & KubeObject>(SecurityGroupResource),
  };
}

export type NetworkInformers = ReturnType<typeof networkInformers>;

export function ownerOfObject(object: KubeObject): Owner {
  return { kind: object.kind!, namespace: object.metadata.namespace, name: object.metadata.name!, uid: object.metadata.uid! };
}
