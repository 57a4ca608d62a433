// What a node agent's credentials (`system:node:<name>`, group system:nodes) may do, as Kubernetes' Node
// authorizer decides for kubelets: read only what its node needs and write only its own Node, its own Lease,
// the status of the VirtualMachines bound to it (status.nodeName), of the LoadBalancers whose HTTP proxy
// it runs (status.proxy.node) and of the local Volumes and their snapshots it keeps (status.backend.node,
// status.node). Which VirtualMachines those are comes
// from the watch cache, kept per node by an index updated from cache events. For everything it has no
// opinion on (discovery, self reviews) the request falls through to RBAC; everything else a node asks for
// is denied here, so a node credential stolen from one hypervisor reaches nothing of another's.
// The NodeRestriction admission plugin checks what the body of a permitted write says (names, a moved VM).
import type { KubeObject } from '../../apis/meta/types.ts';
import type { UserInfo } from '../auth/authenticate.ts';
import { NODE_LEASE_NAMESPACE } from '../registry/builtins/namespaces.ts';
import { storagePrefixFor } from '../registry/resource.ts';
import type { CacheEvent, WatchCache, WatchRegistration } from '../watch/cache.ts';
import type { Authorizer, Decision, RequestAttributes } from './types.ts';

export const NODES_GROUP = 'system:nodes';
const NODE_PREFIX = 'system:node:';
const COMPUTE_GROUP = 'compute.photoncloud.io';
const VM_PREFIX = storagePrefixFor(COMPUTE_GROUP, 'virtualmachines');
const LB_GROUP = 'lb.photoncloud.io';
const LB_PREFIX = storagePrefixFor(LB_GROUP, 'loadbalancers');
const STORAGE_GROUP = 'storage.photoncloud.io';
const VOLUME_PREFIX = storagePrefixFor(STORAGE_GROUP, 'volumes');
const SNAPSHOT_PREFIX = storagePrefixFor(STORAGE_GROUP, 'volumesnapshots');

/** The node a user speaks for, or undefined for anyone else. */
export function nodeNameOf(user: UserInfo): string | undefined {
  if (!user.groups.includes(NODES_GROUP) || !user.name.startsWith(NODE_PREFIX)) return undefined;
  const name = user.name.slice(NODE_PREFIX.length);
  return name || undefined;
}

const nodeOfVm = (object: KubeObject | undefined) => (object?.status as { nodeName?: string } | undefined)?.nodeName || undefined;

/** Per node, how many VirtualMachines are bound to it in each namespace. */
class BoundVms {
  private readonly byNode = new Map<string, Map<string, number>>();

  private add(object: KubeObject | undefined, delta: number): void {
    const node = nodeOfVm(object);
    if (!node) return;
    const namespaces = this.byNode.get(node) ?? new Map<string, number>();
    const namespace = object!.metadata.namespace!;
    const count = (namespaces.get(namespace) ?? 0) + delta;
    if (count > 0) namespaces.set(namespace, count);
    else namespaces.delete(namespace);
    if (namespaces.size > 0) this.byNode.set(node, namespaces);
    else this.byNode.delete(node);
  }

  apply(event: Pick<CacheEvent, 'type' | 'object' | 'prevObject'>): void {
    if (event.type !== 'ADDED') this.add(event.prevObject, -1);
    if (event.type !== 'DELETED') this.add(event.object, +1);
  }

  clear(): void {
    this.byNode.clear();
  }

  hasNamespace(node: string, namespace: string): boolean {
    return this.byNode.get(node)?.has(namespace) ?? false;
  }
}

const NO_OPINION = undefined;
const deny = (why: string): Decision => ({ allowed: false, reason: why });
const allow = (why: string): Decision => ({ allowed: true, reason: why });

export class NodeAuthorizer implements Authorizer {
  private readonly bound = new BoundVms();
  private registration?: WatchRegistration;
  private stopped = true;

  constructor(
    private readonly cache: WatchCache,
    private readonly next: Authorizer,
  ) {}

  start(): void {
    this.stopped = false;
    this.bound.clear();
    const { initial, registration } = this.cache.watch(
      {
        keyPrefix: VM_PREFIX,
        onEvent: (event) => this.bound.apply(event),
        onTerminate: () => {
          if (!this.stopped) queueMicrotask(() => this.start());
        },
      },
      undefined,
    );
    for (const event of initial) this.bound.apply(event);
    this.registration = registration;
  }

  stop(): void {
    this.stopped = true;
    this.registration?.cancel();
  }

  authorize(attributes: RequestAttributes): Decision {
    const node = nodeNameOf(attributes.user);
    if (!node) return this.next.authorize(attributes);
    return this.decideForNode(node, attributes) ?? this.next.authorize(attributes);
  }

  private vmBoundTo(node: string, namespace: string, name: string): boolean {
    return nodeOfVm(this.cache.get(`${VM_PREFIX}${namespace}/${name}`)?.object) === node;
  }

  private proxyOn(node: string, namespace: string, name: string): boolean {
    return (this.cache.get(`${LB_PREFIX}${namespace}/${name}`)?.object?.status as { proxy?: { node?: string } } | undefined)?.proxy?.node === node;
  }

  private localVolumeOn(node: string, namespace: string, name: string): boolean {
    return (this.cache.get(`${VOLUME_PREFIX}${namespace}/${name}`)?.object?.status as { backend?: { node?: string } } | undefined)?.backend?.node === node;
  }

  private localSnapshotOn(node: string, namespace: string, name: string): boolean {
    return (this.cache.get(`${SNAPSHOT_PREFIX}${namespace}/${name}`)?.object?.status as { node?: string } | undefined)?.node === node;
  }

  private decideForNode(node: string, attributes: RequestAttributes): Decision | undefined {
    if (!attributes.resourceRequest) return NO_OPINION;
    const { apiGroup, resource, subresource, verb, namespace, name } = attributes;
    const read = verb === 'get' || verb === 'list' || verb === 'watch';
    if (apiGroup === 'authorization.k8s.io' || apiGroup === 'authentication.k8s.io') return NO_OPINION;
    if (apiGroup === COMPUTE_GROUP && resource === 'nodes') {
      // create carries no name in the URL: NodeRestriction checks the body names this node.
      if (verb === 'create' && !subresource) return allow('node: registers its own Node');
      if (name !== node) return deny(`node ${node} may only access its own Node`);
      if (read || verb === 'update' || verb === 'patch') return allow('node: its own Node');
      return deny(`node ${node} may not ${verb} its Node`);
    }
    if (apiGroup === 'coordination.k8s.io' && resource === 'leases') {
      if (namespace !== NODE_LEASE_NAMESPACE) return deny(`node ${node} may only use its Lease in ${NODE_LEASE_NAMESPACE}`);
      if (verb === 'create') return allow('node: creates its own Lease');
      if (name === node && (read || verb === 'update' || verb === 'patch')) return allow('node: its own Lease');
      return deny(`node ${node} may only access its own Lease`);
    }
    if (apiGroup === COMPUTE_GROUP && resource === 'virtualmachines') {
      if ((verb === 'list' || verb === 'watch') && !subresource) {
        return attributes.fieldSelectorNodeName === node ? allow('node: VirtualMachines bound to it') : deny(`node ${node} may only list VirtualMachines with fieldSelector status.nodeName=${node}`);
      }
      if (!name || !namespace || !this.vmBoundTo(node, namespace, name)) return deny(`node ${node} may only access VirtualMachines bound to it`);
      if (verb === 'get' && !subresource) return allow('node: a VirtualMachine bound to it');
      if (subresource === 'status' && (verb === 'update' || verb === 'patch' || verb === 'get')) return allow('node: status of a VirtualMachine bound to it');
      return deny(`node ${node} may only change the status of VirtualMachines`);
    }
    // LoadBalancers whose HTTP proxy runs here (status.proxy.node): read them, report the proxy in their status.
    if (apiGroup === LB_GROUP && resource === 'loadbalancers') {
      if ((verb === 'list' || verb === 'watch') && !subresource) {
        return attributes.fieldSelectorProxyNode === node ? allow('node: LoadBalancers whose proxy runs on it') : deny(`node ${node} may only list LoadBalancers with fieldSelector status.proxy.node=${node}`);
      }
      if (!name || !namespace || !this.proxyOn(node, namespace, name)) return deny(`node ${node} may only access LoadBalancers whose proxy runs on it`);
      if (verb === 'get' && !subresource) return allow('node: a LoadBalancer whose proxy runs on it');
      if (subresource === 'status' && (verb === 'patch' || verb === 'get')) return allow('node: reports the proxy of a LoadBalancer in its status');
      return deny(`node ${node} may only report the status of LoadBalancers' proxies`);
    }
    // Local Volumes kept on this node (status.backend.node) and their snapshots (status.node): read them, report
    // on their files in status.local.
    if (apiGroup === STORAGE_GROUP && (resource === 'volumes' || resource === 'volumesnapshots')) {
      const volumes = resource === 'volumes';
      const selector = volumes ? 'status.backend.node' : 'status.node';
      if ((verb === 'list' || verb === 'watch') && !subresource) {
        const pinned = volumes ? attributes.fieldSelectorBackendNode : attributes.fieldSelectorStatusNode;
        return pinned === node ? allow(`node: ${resource} kept on it`) : deny(`node ${node} may only list ${resource} with fieldSelector ${selector}=${node}`);
      }
      const here = !!name && !!namespace && (volumes ? this.localVolumeOn(node, namespace, name) : this.localSnapshotOn(node, namespace, name));
      if (!here) return deny(`node ${node} may only access ${resource} kept on it`);
      if (verb === 'get' && !subresource) return allow(`node: ${resource} kept on it`);
      if (subresource === 'status' && (verb === 'patch' || verb === 'get')) return allow(`node: reports on ${resource} kept on it`);
      return deny(`node ${node} may only report the status of ${resource} kept on it`);
    }
    // What its VMs reference (images to boot, ports to plug): readable one by one in the namespaces it runs VMs in.
    const referenced = (apiGroup === COMPUTE_GROUP && resource === 'images') || (apiGroup === 'network.photoncloud.io' && resource === 'ports');
    if (referenced && verb === 'get' && !subresource && this.bound.hasNamespace(node, namespace)) return allow('node: referenced by a VirtualMachine bound to it');
    // An Image's status says it was fetched and verified (or why not): written by the node that did it.
    if (apiGroup === COMPUTE_GROUP && resource === 'images' && subresource === 'status' && (verb === 'get' || verb === 'patch' || verb === 'update') && this.bound.hasNamespace(node, namespace)) return allow('node: reports an Image it verified');
    if (apiGroup === '' && resource === 'events' && (verb === 'create' || verb === 'patch')) return allow('node: reports events');
    if (apiGroup === 'events.k8s.io' && resource === 'events' && (verb === 'create' || verb === 'patch')) return allow('node: reports events');
    return deny(`node ${node} has no access to ${resource}`);
  }
}
