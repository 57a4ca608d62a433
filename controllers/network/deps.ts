// What the network controllers share: the API client, shared informers, the OVN Northbound driver, the
// finalizer that makes every network object wait for its OVN rows to be removed, and how an unreachable OVN
// is reported.
import type { ApiClient } from '../../apis/client/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { LoadBalancerResource, type LoadBalancer } from '../../apis/lb/v1alpha1/index.ts';
import { PortResource, SecurityGroupResource, SubnetResource, VpcResource, type Port, type SecurityGroup, type Subnet, type Vpc } from '../../apis/network/v1alpha1/index.ts';
import { OvnUnavailableError, type NorthboundDriver, type Owner } from '../../agents/ovn-nb/index.ts';
import type { InformerCache } from '../runtime/informer.ts';
import { notReady, type Outcome } from '../runtime/lifecycle.ts';

export const OVN_FINALIZER = 'network.photoncloud.io/ovn';
/** How soon a reconcile that found OVN unreachable tries again (no watch tells when it comes back). */
export const OVN_RETRY_MS = 5000;

export interface NetworkDeps {
  client: ApiClient;
  informers: InformerCache;
  ovn: NorthboundDriver;
}

export function networkInformers(informers: InformerCache) {
  return {
    vpcs: informers.informerFor<VpcObject>(VpcResource),
    subnets: informers.informerFor<SubnetObject>(SubnetResource),
    ports: informers.informerFor<PortObject>(PortResource),
    securityGroups: informers.informerFor<SecurityGroupObject>(SecurityGroupResource),
    // Their VIPs and health-check sources hold subnet addresses too (see Allocators in port.ts).
    loadBalancers: informers.informerFor<LoadBalancerObject>(LoadBalancerResource),
  };
}

export type NetworkInformers = ReturnType<typeof networkInformers>;
export type VpcObject = Vpc & KubeObject;
export type SubnetObject = Subnet & KubeObject;
export type PortObject = Port & KubeObject;
export type SecurityGroupObject = SecurityGroup & KubeObject;
export type LoadBalancerObject = LoadBalancer & KubeObject;

export function ownerOfObject(object: KubeObject): Owner {
  return { kind: object.kind!, namespace: object.metadata.namespace, name: object.metadata.name!, uid: object.metadata.uid! };
}

/**
 * Runs an OVN step; an unreachable OVN (before it or during it) becomes Ready=False OVNUnavailable, tried
 * again shortly. Other errors propagate (retried with backoff by the controller).
 */
export async function withOvn<R extends Outcome | 'done'>(ovn: NorthboundDriver, step: () => Promise<R>, status?: Record<string, unknown>): Promise<R | Outcome> {
  const unavailable = (reason: string): Outcome => ({ readiness: notReady('OVNUnavailable', reason), status, requeueAfterMs: OVN_RETRY_MS });
  if (ovn.unavailableReason) return unavailable(ovn.unavailableReason);
  try {
    return await step();
  } catch (error) {
    if (error instanceof OvnUnavailableError) return unavailable(error.message);
    throw error;
  }
}
