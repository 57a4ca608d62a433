// The admission chain: what a write must pass, beyond the object's own validation (registry/admit.ts: unknown
// fields, defaults, metadata, schema, immutable fields, the kind's strategy), before it is stored. Each check
// is a plugin; the chain runs them in one fixed order over one lookup of other objects (lookup.ts), and the
// first plugin that refuses ends it, as in Kubernetes, so a refusal names the most fundamental problem.
//
// The order (standardAdmissionPlugins in plugins.ts) and why:
//   1. NamespaceLifecycle (namespace-lifecycle.ts): nothing is created in a missing (404) or terminating
//      (403) namespace. First: nothing else is worth checking about an object that cannot exist there.
//   1a. NodeRestriction (node-restriction.ts): a node's credentials write only its own Node, Lease and the
//      status of VMs bound to it; an identity that may not touch the object learns nothing from later checks.
//   1b. RBACEscalation and ProjectOrganization (rbac-escalation.ts): nobody grants what they do not hold,
//      and an organization's admins create Projects in their organization only (403). Before the object's
//      other checks: a grant its author may not make is not worth validating further.
//   2. ParentLifecycle (parent-lifecycle.ts): no new child of a parent being deleted (a Subnet in a
//      terminating Vpc, a Port in a terminating Subnet), 403, the same rule one level down.
//   3. Per-kind checks (network.ts: Vpc, Subnet, SecurityGroup, Port; dns.ts, lb.ts, storage.ts): rules that can never become true or
//      that conflict with what is already admitted (422). A reference to an object that does not exist yet is
//      never refused: order must not matter; the controller reports it until the object appears. Then
//      UserPassword (user-password.ts), which turns a User's write-only password into its hash: a mutation,
//      last among them so a write refused by an earlier plugin costs no (deliberately slow) hash.
//      ControllerFinalizers (controller-finalizers.ts) after it, another mutation: a create gets the
//      finalizers the leading controller manager keeps on its kind, saving the controller that write.
// ResourceQuota goes last, after 3, so only writes that every other plugin admitted are charged.
//
// Plugins see CREATE and UPDATE of the object itself (subresource writes such as status only when they ask
// for them) and run for dry runs too, which must answer exactly what the real write would.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { UserInfo } from '../auth/authenticate.ts';
import { invalid, type FieldError } from '../errors.ts';
import type { ResourceInfo } from '../registry/resource.ts';

export type AdmissionOperation = 'CREATE' | 'UPDATE';

export interface AdmissionAttributes {
  operation: AdmissionOperation;
  resource: ResourceInfo;
  /** The object as it would be stored: defaulted and valid on its own. */
  object: KubeObject;
  /** The stored object an UPDATE replaces. */
  old?: KubeObject;
  /** `status`, `finalize`, … for a subresource write; undefined for the object itself. */
  subresource?: string;
  dryRun: boolean;
  /** Who writes: undefined for the API server's own writes. */
  user?: UserInfo;
}

/** A resource by group and plural: `{ group: '', plural: 'namespaces' }`, `{ group: 'network.photoncloud.io', plural: 'vpcs' }`. */
export interface ResourceRef {
  group: string;
  plural: string;
}

/**
 * Other objects, in their stored form, as the plugins see them. One implementation (lookup.ts) reads the
 * watch cache, which may lag storage by milliseconds: a get that misses is confirmed in storage (an object
 * created a moment ago exists), lists are the cache's. What slips through that lag, controllers report.
 */
export interface AdmissionLookup {
  get(resource: ResourceRef, namespace: string | undefined, name: string): Promise<KubeObject | undefined>;
  /** Every object of a resource in a namespace (every namespace when undefined). */
  list(resource: ResourceRef, namespace?: string): Promise<KubeObject[]>;
  /** The cache's copy only, no storage read on a miss: for a hint read on every write (a miss is an answer). */
  cached(resource: ResourceRef, namespace: string | undefined, name: string): KubeObject | undefined;
}

export interface GroupKind {
  group: string;
  kind: string;
}

export interface AdmissionPlugin {
  /** CamelCase, as Kubernetes names its plugins (NamespaceLifecycle, …). */
  readonly name: string;
  readonly operations: readonly AdmissionOperation[];
  /** The kinds it admits; omitted: every kind. */
  readonly kinds?: readonly GroupKind[];
  /** Whether it also admits subresource writes (status, …); by default only writes of the object itself. */
  readonly subresources?: boolean;
  /**
   * Field errors (the chain answers 422 Invalid naming them), none to admit; or throws an ApiError for any
   * other refusal (403 Forbidden, 404 NotFound, …).
   */
  admit(attributes: AdmissionAttributes, lookup: AdmissionLookup): Promise<FieldError[]>;
}

export function handles(plugin: AdmissionPlugin, attributes: AdmissionAttributes): boolean {
  if (!plugin.operations.includes(attributes.operation)) return false;
  if (attributes.subresource !== undefined && !plugin.subresources) return false;
  const { group, kind } = attributes.resource;
  return plugin.kinds === undefined || plugin.kinds.some((candidate) => candidate.group === group && candidate.kind === kind);
}

export class AdmissionChain {
  constructor(
    private readonly plugins: readonly AdmissionPlugin[],
    private readonly lookup: AdmissionLookup,
  ) {
    const names = plugins.map((plugin) => plugin.name);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated) throw new Error(`admission plugin ${repeated} is in the chain twice`);
  }

  /** Plugin names in the order they run. */
  get order(): string[] {
    return this.plugins.map((plugin) => plugin.name);
  }

  /** Resolves when every plugin that handles the write admits it; otherwise throws the first refusal. */
  async admit(attributes: AdmissionAttributes): Promise<void> {
    for (const plugin of this.plugins) {
      if (!handles(plugin, attributes)) continue;
      const errors = await plugin.admit(attributes, this.lookup);
      if (errors.length > 0) throw invalid(attributes.resource.kind, attributes.resource.group, attributes.object.metadata.name ?? '', errors);
    }
  }
}
