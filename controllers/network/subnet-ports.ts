// The Ports of each Subnet, kept from the Port informer's events: a Subnet's pass counts its used addresses
// and its cleanup waits for its Ports, and each Port's change queues its Subnet again. Scanning every Port of
// the namespace for that made each pass O(Ports) (a Port per VM at scale: tens of thousands per pass).
import type { PortObject } from './deps.ts';
import type { Informer } from '../runtime/informer.ts';

const subnetKey = (namespace: string | undefined, subnet: string) => `${namespace ?? ''}\0${subnet}`;

interface SubnetPorts {
  names: Set<string>;
  /** How many of them have an address in their status. */
  addressed: number;
}

export class SubnetPortIndex {
  private readonly bySubnet = new Map<string, SubnetPorts>();
  /** Port key (namespace/name) → where it was counted, to take it back out. */
  private readonly indexed = new Map<string, { subnet: string; addressed: boolean }>();

  private static readonly perInformer = new WeakMap<Informer<PortObject>, SubnetPortIndex>();

  static for(informer: Informer<PortObject>): SubnetPortIndex {
    let index = SubnetPortIndex.perInformer.get(informer);
    if (!index) SubnetPortIndex.perInformer.set(informer, (index = new SubnetPortIndex(informer)));
    return index;
  }

  constructor(informer: Informer<PortObject>) {
    informer.addEventHandler({ onAdd: (port) => this.put(port), onUpdate: (_old, port) => this.put(port), onDelete: (port) => this.remove(port) });
  }

  /** Names of the Ports naming the Subnet, in no particular order. */
  portsOf(namespace: string | undefined, subnet: string): string[] {
    return [...(this.bySubnet.get(subnetKey(namespace, subnet))?.names ?? [])];
  }

  /** How many Ports naming the Subnet have an address. */
  addressedCount(namespace: string | undefined, subnet: string): number {
    return this.bySubnet.get(subnetKey(namespace, subnet))?.addressed ?? 0;
  }

  private put(port: PortObject): void {
    this.remove(port);
    const subnet = subnetKey(port.metadata.namespace, port.spec.subnetRef);
    const addressed = Boolean(port.status?.ipAddress);
    let entry = this.bySubnet.get(subnet);
    if (!entry) this.bySubnet.set(subnet, (entry = { names: new Set(), addressed: 0 }));
    entry.names.add(port.metadata.name!);
    if (addressed) entry.addressed++;
    this.indexed.set(`${port.metadata.namespace ?? ''}/${port.metadata.name}`, { subnet, addressed });
  }

  private remove(port: PortObject): void {
    const key = `${port.metadata.namespace ?? ''}/${port.metadata.name}`;
    const was = this.indexed.get(key);
    if (!was) return;
    const entry = this.bySubnet.get(was.subnet)!;
    entry.names.delete(port.metadata.name!);
    if (was.addressed) entry.addressed--;
    if (entry.names.size === 0) this.bySubnet.delete(was.subnet);
    this.indexed.delete(key);
  }
}
