// Where a VirtualMachine fits, as a pure function (unit-tested in fit.test.ts): the scheduler's filter and
// score. A Node is a candidate when it is Ready, not cordoned (spec.unschedulable), carries every label of the
// VM's nodeSelector, is the node its local Volumes live on (if any) and has the VM's cpu and memory free: allocatable minus what the VMs bound to it request
// (every bound VM that is not Halted, including ones being deleted — their QEMU may still run). Among the
// candidates the one left least full wins (the larger of its cpu and memory fractions after placement), so VMs
// spread; ties go to the node with fewer VMs, then to the name. When none fits, the message says why for each
// node, grouped as kube-scheduler does: "0/3 nodes are available: 1 not Ready, 2 insufficient cpu".
import type { Node, VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { parseByteQuantity } from '../../apis/meta/quantity.ts';

export interface Resources {
  cpu: number;
  memoryBytes: number;
}

export interface NodeView {
  name: string;
  labels: Record<string, string>;
  unschedulable: boolean;
  ready: boolean;
  allocatable: Resources;
  /** What the VMs bound to it request, and how many they are. */
  used: Resources & { vms: number };
}

/** Nodes to choose from by position (an array of views, or views made as the scan reaches them). */
export interface NodeViews {
  readonly length: number;
  at(position: number): NodeView | undefined;
}

export interface Placement {
  node?: string;
  /** Why no node fits (empty when one does). */
  message: string;
  /** How many nodes were looked at (with a sample: where the next decision should start). */
  scanned?: number;
}

/** What a VM asks for: its cores (default 1) and memory. */
export function requestOf(vm: VirtualMachine): Resources {
  return { cpu: vm.spec.cpu?.cores ?? 1, memoryBytes: parseByteQuantity(vm.spec.memory) ?? 0 };
}

/** Whether a bound VM counts against its node: everything but Halted. */
export const occupies = (vm: VirtualMachine): boolean => (vm.spec.runStrategy ?? 'Always') !== 'Halted';

export function nodeView(node: Node, used: Resources & { vms: number }): NodeView {
  // Built field by field, not as a spread of the cached static view (the spread was the largest single cost of a
  // decision when every decision made its views; the scheduler now remakes them only after the node list changes).
  const view = staticViewOf(node);
  return { name: view.name, labels: view.labels, unschedulable: view.unschedulable, ready: view.ready, allocatable: view.allocatable, used };
}

/**
 * What a decision reads of a Node, worked out once per version of it: informers replace an object on every
 * change, so the object itself is the key. A decision looks at every node; parsing each one's quantities and
 * conditions again for every VM was most of a decision's cost at 5,000 nodes (a decision now makes views only for
 * the nodes its scan reaches: the scheduler's NodeViews).
 */
const staticViews = new WeakMap<Node, Omit<NodeView, 'used'>>();
function staticViewOf(node: Node): Omit<NodeView, 'used'> {
  let view = staticViews.get(node);
  if (!view) {
    view = {
      name: node.metadata.name!,
      labels: node.metadata.labels ?? {},
      unschedulable: node.spec?.unschedulable === true,
      ready: findCondition(node.status?.conditions, 'Ready')?.status === 'True',
      allocatable: { cpu: node.status?.allocatable?.cpu ?? 0, memoryBytes: parseByteQuantity(node.status?.allocatable?.memory) ?? 0 },
    };
    staticViews.set(node, view);
  }
  return view;
}

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(bytes % GIB === 0 ? 0 : 2)}Gi`;

/** A node the VM must run on (its local Volumes live there), and why. */
export interface Pin {
  node: string;
  why: string;
}

/** How full a node would be with the request: the larger of its CPU and memory fractions. */
function fullnessWith(node: NodeView, request: Resources): number {
  const cpu = node.allocatable.cpu > 0 ? (node.used.cpu + request.cpu) / node.allocatable.cpu : 1;
  const memory = node.allocatable.memoryBytes > 0 ? (node.used.memoryBytes + request.memoryBytes) / node.allocatable.memoryBytes : 1;
  return Math.max(cpu, memory);
}

/**
 * The least full first, then the fewest VMs, then the name (in code-unit order: cheaper than localeCompare,
 * which a decision over hundreds of equally empty nodes calls for nearly every one).
 */
function better(fullness: number, node: NodeView, bestFullness: number, best: NodeView): boolean {
  if (fullness !== bestFullness) return fullness < bestFullness;
  if (node.used.vms !== best.used.vms) return node.used.vms < best.used.vms;
  return node.name < best.name;
}

/**
 * How many fitting nodes are enough to pick from (kube-scheduler's percentageOfNodesToScore): every node up
 * to 100, then a share that shrinks from half towards 5% as the cluster grows, never under 100. Looking at
 * every node for every VM made a decision O(nodes) at full cost: at 5,000 nodes the scheduler was the
 * bottleneck of the scale run.
 */
export function enoughFitting(nodes: number): number {
  if (nodes <= 100) return nodes;
  const percent = Math.max(5, 50 - nodes / 125);
  return Math.max(100, Math.floor((nodes * percent) / 100));
}

/**
 * Picks the node for a request, or says why there is none. With `sample`, the scan starts at node
 * `sample.start` (the scheduler rotates it so decisions spread over the cluster) and stops once
 * `sample.enough` nodes fit; without it, every node is looked at.
 */
export function choose(request: Resources, nodeSelector: Record<string, string> | undefined, nodes: NodeViews, pin?: Pin, sample?: { start: number; enough: number }): Placement {
  if (nodes.length === 0) return { message: 'no Nodes are registered' };
  const rejected = new Map<string, number>();
  const reject = (why: string) => rejected.set(why, (rejected.get(why) ?? 0) + 1);
  let mostFreeCpu = 0;
  let mostFreeMemory = 0;
  // The least full node that fits (then the fewest VMs, then the name): one pass, no sort of every node.
  let best: NodeView | undefined;
  let bestFullness = 0;
  const selector = Object.entries(nodeSelector ?? {});
  let fitting = 0;
  let scanned = 0;
  const start = sample && nodes.length > 0 ? sample.start % nodes.length : 0;
  for (let offset = 0; offset < nodes.length; offset++) {
    const node = nodes.at((start + offset) % nodes.length)!;
    scanned++;
    if (pin && node.name !== pin.node) {
      reject(pin.why);
      continue;
    }
    if (!node.ready) {
      reject('not Ready');
      continue;
    }
    if (node.unschedulable) {
      reject('unschedulable (cordoned)');
      continue;
    }
    if (selector.length > 0 && selector.some(([key, value]) => node.labels[key] !== value)) {
      reject("didn't match the VM's nodeSelector");
      continue;
    }
    const freeCpu = node.allocatable.cpu - node.used.cpu;
    const freeMemory = node.allocatable.memoryBytes - node.used.memoryBytes;
    mostFreeCpu = Math.max(mostFreeCpu, freeCpu);
    mostFreeMemory = Math.max(mostFreeMemory, freeMemory);
    const cpuShort = request.cpu > freeCpu;
    const memoryShort = request.memoryBytes > freeMemory;
    if (cpuShort) reject('insufficient cpu');
    if (memoryShort) reject('insufficient memory');
    if (cpuShort || memoryShort) continue;
    const fullness = fullnessWith(node, request);
    if (!best || better(fullness, node, bestFullness, best)) {
      best = node;
      bestFullness = fullness;
    }
    if (sample && ++fitting >= sample.enough) break;
  }
  if (best) return { node: best.name, message: '', ...(sample ? { scanned } : {}) };
  const reasons = [...rejected.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([why, count]) => `${count} ${why}`);
  const details: string[] = [];
  if (rejected.has('insufficient cpu')) details.push(`wants ${request.cpu} cpu, at most ${Math.max(0, mostFreeCpu)} free on a node`);
  if (rejected.has('insufficient memory')) details.push(`wants ${gib(request.memoryBytes)} memory, at most ${gib(Math.max(0, mostFreeMemory))} free on a node`);
  return { message: `0/${nodes.length} nodes are available: ${reasons.join(', ')}${details.length ? ` (${details.join('; ')})` : ''}` };
}

/**
 * Where the VM's local Volumes pin it: the one node they all live on; a message when they live on different
 * nodes (it can never run: undefined node); undefined when none is bound yet.
 */
export function pinOf(vm: VirtualMachine, localNodeOf: (volume: string) => string | undefined): Pin | { conflict: string } | undefined {
  const bound = (vm.spec.volumes ?? []).flatMap((entry) => {
    const node = localNodeOf(entry.volumeRef);
    return node ? [{ volume: entry.volumeRef, node }] : [];
  });
  if (bound.length === 0) return undefined;
  const nodes = [...new Set(bound.map((entry) => entry.node))];
  if (nodes.length > 1) return { conflict: `its local Volumes live on different nodes: ${bound.map((entry) => `${entry.volume} on ${entry.node}`).join(', ')}` };
  return { node: nodes[0], why: `not the node its local Volume ${bound[0].volume} lives on (${nodes[0]})` };
}
