// The shared informers the LoadBalancer controller reads: LoadBalancers and, per namespace, what backends,
// VIPs and the proxy's Port come from.
import { VirtualMachineResource, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { LoadBalancerResource, type LoadBalancer } from '../../apis/lb/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { NodeResource, type Node } from '../../apis/compute/v1alpha1/index.ts';
import { PortResource, SubnetResource, VpcResource, type Port, type Subnet, type Vpc } from '../../apis/network/v1alpha1/index.ts';
import type { InformerCache } from '../runtime/informer.ts';

export type LoadBalancerObject = LoadBalancer & KubeObject;
export type PortObject = Port & KubeObject;

export function lbInformers(informers: InformerCache) {
  return {
    loadBalancers: informers.informerFor<LoadBalancerObject>(LoadBalancerResource),
    virtualMachines: informers.informerFor<VirtualMachine & KubeObject>(VirtualMachineResource),
    ports: informers.informerFor<PortObject>(PortResource),
    subnets: informers.informerFor<Subnet & KubeObject>(SubnetResource),
    vpcs: informers.informerFor<Vpc & KubeObject>(VpcResource),
    nodes: informers.informerFor<Node & KubeObject>(NodeResource),
  };
}

export type LbInformers = ReturnType<typeof lbInformers>;
