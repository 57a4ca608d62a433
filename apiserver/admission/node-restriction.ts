// NodeRestriction (Kubernetes' plugin of that name): a node agent's credentials write only what belongs to its
// node. The node authorizer already limited which requests a node may make; this checks what their bodies
// say, which the authorizer cannot see: a Node or Lease created under another node's name, a VirtualMachine
// status that moves the VM to another node or touches more than the agent's report, a local Volume's or
// snapshot's status beyond the agent's report (status.local).
import { PROXY_REPORT_FIELDS } from '../../apis/lb/v1alpha1/proxy.ts';
import { jsonEqual } from '../../apis/meta/equality.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { nodeNameOf } from '../authz/node-authorizer.ts';
import { ApiError } from '../errors.ts';
import { groupResource } from '../registry/resource.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './chain.ts';

const COMPUTE_GROUP = 'compute.photoncloud.io';
const nodeOfVm = (object: KubeObject | undefined) => (object?.status as { nodeName?: string } | undefined)?.nodeName;
const proxyNode = (object: KubeObject | undefined) => (object?.status as { proxy?: { node?: string } } | undefined)?.proxy?.node;

/**
 * A VirtualMachine minus what its node's agent reports (status.runtime, the DisksReady condition) and metadata
 * that changes with any write: the rest (interfaces, volumes, printableStatus, the controller's conditions) is
 * the controllers', and a node that could write it could, say, claim another Volume for its VM.
 */
function withoutVmAgentFields(object: KubeObject | undefined): unknown {
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...metadata } = (object?.metadata ?? {}) as Record<string, unknown>;
  const { runtime: _runtime, conditions, ...status } = (object?.status ?? {}) as Record<string, unknown> & { conditions?: Array<{ type: string }> };
  return { spec: (object as { spec?: unknown } | undefined)?.spec, metadata, status: { ...status, conditions: (conditions ?? []).filter((condition) => condition.type !== 'DisksReady') } };
}

/** The object minus the agent's fields and metadata that changes with any write. */
function withoutAgentFields(object: KubeObject | undefined): unknown {
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...metadata } = (object?.metadata ?? {}) as Record<string, unknown>;
  const status = { ...((object?.status ?? {}) as Record<string, unknown>) };
  const proxy = { ...((status.proxy ?? {}) as Record<string, unknown>) };
  for (const field of PROXY_REPORT_FIELDS) delete proxy[field];
  return { spec: (object as { spec?: unknown } | undefined)?.spec, metadata, status: { ...status, proxy } };
}

/** A local Volume or VolumeSnapshot minus the agent's report (status.local) and metadata that changes with any write. */
function withoutLocalReport(object: KubeObject | undefined): unknown {
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...metadata } = (object?.metadata ?? {}) as Record<string, unknown>;
  const { local: _local, ...status } = (object?.status ?? {}) as Record<string, unknown>;
  return { spec: (object as { spec?: unknown } | undefined)?.spec, metadata, status };
}
/** The node keeping a local Volume (status.backend.node) or a VolumeSnapshot of one (status.node). */
const localNode = (kind: string, object: KubeObject | undefined) => {
  const status = object?.status as { node?: string; backend?: { node?: string } } | undefined;
  return kind === 'Volume' ? status?.backend?.node : status?.node;
};

function refuse(attributes: AdmissionAttributes, node: string, why: string): ApiError {
  const { resource, object } = attributes;
  return new ApiError(403, 'Forbidden', `${groupResource(resource)} ${JSON.stringify(object.metadata.name)} is forbidden: node ${JSON.stringify(node)} ${why}`, {
    name: object.metadata.name,
    group: resource.group || undefined,
    kind: resource.plural,
  });
}

export const nodeRestriction: AdmissionPlugin = {
  name: 'NodeRestriction',
  operations: ['CREATE', 'UPDATE'],
  kinds: [
    { group: COMPUTE_GROUP, kind: 'Node' },
    { group: 'coordination.k8s.io', kind: 'Lease' },
    { group: COMPUTE_GROUP, kind: 'VirtualMachine' },
    { group: 'lb.photoncloud.io', kind: 'LoadBalancer' },
    { group: 'storage.photoncloud.io', kind: 'Volume' },
    { group: 'storage.photoncloud.io', kind: 'VolumeSnapshot' },
  ],
  subresources: true,
  async admit(attributes) {
    const node = attributes.user && nodeNameOf(attributes.user);
    if (!node) return [];
    const { resource, object, old } = attributes;
    if (resource.kind === 'Node' || resource.kind === 'Lease') {
      if (object.metadata.name !== node) throw refuse(attributes, node, `may only write its own ${resource.kind}`);
      return [];
    }
    if (resource.kind === 'LoadBalancer') {
      // Only the agent's report on the proxy it runs: nothing else of the status, and not where it runs.
      if (proxyNode(old) !== node || proxyNode(object) !== node) throw refuse(attributes, node, 'may only report the proxy of LoadBalancers whose proxy runs on it, and may not move it');
      if (!jsonEqual(withoutAgentFields(old), withoutAgentFields(object))) throw refuse(attributes, node, `may only write status.proxy.{${PROXY_REPORT_FIELDS.join(',')}} of a LoadBalancer`);
      return [];
    }
    if (resource.kind === 'Volume' || resource.kind === 'VolumeSnapshot') {
      // Only the agent's report on the file (or snapshot) it keeps: not where it is kept, nothing else.
      if (localNode(resource.kind, old) !== node || localNode(resource.kind, object) !== node) throw refuse(attributes, node, `may only report on ${resource.kind}s kept on it, and may not move them`);
      if (!jsonEqual(withoutLocalReport(old), withoutLocalReport(object))) throw refuse(attributes, node, `may only write status.local of a ${resource.kind}`);
      return [];
    }
    if (nodeOfVm(old) !== node || nodeOfVm(object) !== node) throw refuse(attributes, node, 'may only write the status of VirtualMachines bound to it, and may not move them');
    if (!jsonEqual(withoutVmAgentFields(old), withoutVmAgentFields(object))) throw refuse(attributes, node, 'may only write status.runtime and the DisksReady condition of a VirtualMachine');
    return [];
  },
};
