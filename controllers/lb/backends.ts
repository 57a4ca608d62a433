// Which addresses a LoadBalancer sends traffic to, as plain data: VirtualMachines matching a label selector
// (their first interface whose Port is on the LB's Vpc, while Running) and named Ports, for the default pool
// (spec.backends) and for each HTTP rule's pool. Pure: the caller passes the namespace's objects.
//
// Names are resolved in the LB's own namespace only, so another tenant's objects can never be named. A Port
// that exists here but sits on another Vpc is refused (listed in `refused`, never programmed): traffic
// cannot leave the Vpc, and sending it there would cross the tenant's network boundary.
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { LoadBalancer, LoadBalancerBackends } from '../../apis/lb/v1alpha1/index.ts';
import type { Port, Subnet } from '../../apis/network/v1alpha1/index.ts';

export interface Backend {
  /** VirtualMachine or Port name. */
  name: string;
  kind: 'VirtualMachine' | 'Port';
  address: string;
  /** The Port carrying the address: its UID is the OVN logical switch port (health checks need it). */
  portUid: string;
  /** The Subnet the address is on (health checks come from a source address in it). */
  subnetRef: string;
}

export interface BackendView {
  lb: LoadBalancer;
  /** Name of the LB's Vpc (its subnet's vpcRef). */
  vpc: string;
  virtualMachines: readonly VirtualMachine[];
  ports: readonly Port[];
  subnets: readonly Subnet[];
}

export interface ResolvedPool {
  backends: Backend[];
  /** Why named backends are left out: "Port x is on Vpc y", "Port x does not exist". */
  refused: string[];
  /** Named Ports that exist but have no address yet (they join once they do). */
  waiting: string[];
}

const live = <T extends { metadata: { deletionTimestamp?: string } }>(objects: readonly T[]): T[] => objects.filter((object) => !object.metadata.deletionTimestamp);

export function selectorMatches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** Whether an update of a VM can change what resolvePool makes of it: its labels, state, addresses, deletion. */
export function vmBackendChanged(old: VirtualMachine, vm: VirtualMachine): boolean {
  const view = (object: VirtualMachine) =>
    JSON.stringify([object.metadata.labels ?? {}, !!object.metadata.deletionTimestamp, object.status?.printableStatus, (object.status?.interfaces ?? []).map((nic) => [nic.portName, nic.ipAddress])]);
  return view(old) !== view(vm);
}

/** One pool's backends, sorted by kind and name (stable output: the same objects give the same rows). */
export function resolvePool(view: BackendView, spec: LoadBalancerBackends | undefined): ResolvedPool {
  const vpcOfSubnet = new Map(view.subnets.map((subnet) => [subnet.metadata.name!, subnet.spec.vpcRef]));
  const portsByName = new Map(live(view.ports).map((port) => [port.metadata.name!, port]));
  const backends: Backend[] = [];
  const refused: string[] = [];
  const waiting: string[] = [];
  if (spec?.selector && Object.keys(spec.selector).length > 0) {
    for (const vm of live(view.virtualMachines)) {
      if (!selectorMatches(spec.selector, vm.metadata.labels) || vm.status?.printableStatus !== 'Running') continue;
      const nic = (vm.status.interfaces ?? []).find((candidate) => {
        const port = candidate.portName ? portsByName.get(candidate.portName) : undefined;
        return candidate.ipAddress && port && vpcOfSubnet.get(port.spec.subnetRef) === view.vpc;
      });
      if (nic) backends.push({ name: vm.metadata.name!, kind: 'VirtualMachine', address: nic.ipAddress!, portUid: portsByName.get(nic.portName!)!.metadata.uid!, subnetRef: portsByName.get(nic.portName!)!.spec.subnetRef });
    }
  }
  for (const name of spec?.portRefs ?? []) {
    const port = portsByName.get(name);
    if (!port) refused.push(`Port ${name} does not exist`);
    else if (vpcOfSubnet.get(port.spec.subnetRef) !== view.vpc) refused.push(`Port ${name} is not on Vpc ${view.vpc}`);
    else if (!port.status?.ipAddress) waiting.push(name);
    else backends.push({ name, kind: 'Port', address: port.status.ipAddress, portUid: port.metadata.uid!, subnetRef: port.spec.subnetRef });
  }
  // A VM and a Port with one address (the VM's own Port named too) count once.
  const unique = new Map<string, Backend>();
  for (const backend of backends) if (!unique.has(backend.address)) unique.set(backend.address, backend);
  return { backends: [...unique.values()].sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`)), refused, waiting };
}

/** Every pool the LB has: "default" (spec.backends) and one per HTTP rule, keyed `<listener>/<index>`. */
export function resolvePools(view: BackendView): Map<string, ResolvedPool> {
  const pools = new Map<string, ResolvedPool>([['default', resolvePool(view, view.lb.spec.backends)]]);
  for (const listener of view.lb.spec.listeners) {
    if (listener.protocol !== 'HTTP') continue;
    (listener.rules ?? []).forEach((rule, index) => pools.set(`${listener.name}/${index}`, resolvePool(view, rule.backends)));
  }
  return pools;
}
