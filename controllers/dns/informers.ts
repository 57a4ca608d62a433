// The shared informers the Zone controller reads: Zones (claims span every namespace) and, per namespace, what
// automatic records come from.
import { VirtualMachineResource, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { ZoneResource, type Zone } from '../../apis/dns/v1alpha1/index.ts';
import { LoadBalancerResource, type LoadBalancer } from '../../apis/lb/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { PortResource, SubnetResource, VpcResource, type Port, type Subnet, type Vpc } from '../../apis/network/v1alpha1/index.ts';
import type { InformerCache } from '../runtime/informer.ts';

export function dnsInformers(informers: InformerCache) {
  return {
    zones: informers.informerFor<Zone & KubeObject>(ZoneResource),
    virtualMachines: informers.informerFor<VirtualMachine & KubeObject>(VirtualMachineResource),
    loadBalancers: informers.informerFor<LoadBalancer & KubeObject>(LoadBalancerResource),
    ports: informers.informerFor<Port & KubeObject>(PortResource),
    subnets: informers.informerFor<Subnet & KubeObject>(SubnetResource),
    vpcs: informers.informerFor<Vpc & KubeObject>(VpcResource),
  };
}

export type DnsInformers = ReturnType<typeof dnsInformers>;
