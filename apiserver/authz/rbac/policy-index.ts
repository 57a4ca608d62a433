// The RBAC objects (and the tenancy objects RBAC scopes by) as the authorizer reads them: straight from the
// API server's watch cache, indexed once per change instead of scanned per request. Any event on one of these
// kinds marks the index stale; the next decision rebuilds it (roles and bindings change rarely, requests
// arrive constantly). A grant or revocation is in force as soon as the cache has the event (milliseconds).
import type { KubeObject } from '../../../apis/meta/types.ts';
import { RBAC_GROUP } from '../../registry/builtins/rbac.ts';
import { storagePrefixFor } from '../../registry/resource.ts';
import type { WatchCache, WatchRegistration } from '../../watch/cache.ts';
import type { PolicyRule } from '../types.ts';

export const IAM_GROUP = 'iam.photoncloud.io';

export interface Subject {
  kind: string;
  apiGroup?: string;
  name: string;
  namespace?: string;
}

export interface RoleRef {
  apiGroup: string;
  kind: string;
  name: string;
}

export interface Binding {
  kind: 'ClusterRoleBinding' | 'RoleBinding' | 'OrganizationRoleBinding';
  name: string;
  /** RoleBinding: its namespace (also the default namespace of its ServiceAccount subjects). */
  namespace?: string;
  roleRef: RoleRef;
  subjects: Subject[];
}

const PREFIXES = {
  clusterRoles: storagePrefixFor(RBAC_GROUP, 'clusterroles'),
  roles: storagePrefixFor(RBAC_GROUP, 'roles'),
  clusterRoleBindings: storagePrefixFor(RBAC_GROUP, 'clusterrolebindings'),
  roleBindings: storagePrefixFor(RBAC_GROUP, 'rolebindings'),
  organizationRoleBindings: storagePrefixFor(IAM_GROUP, 'organizationrolebindings'),
  projects: storagePrefixFor(IAM_GROUP, 'projects'),
};

interface Snapshot {
  clusterRoleRules: Map<string, PolicyRule[]>;
  /** `namespace/name` → rules. */
  roleRules: Map<string, PolicyRule[]>;
  clusterRoleBindings: Binding[];
  roleBindingsByNamespace: Map<string, Binding[]>;
  organizationBindingsByOrganization: Map<string, Binding[]>;
  /** Project name (= its namespace) → organization. */
  organizationOfProject: Map<string, string>;
}

const rulesOf = (object: KubeObject): PolicyRule[] => (Array.isArray(object.rules) ? (object.rules as PolicyRule[]) : []);

function bindingOf(kind: Binding['kind'], object: KubeObject): Binding | undefined {
  const roleRef = object.roleRef as RoleRef | undefined;
  const spec = object.spec as { roleRef?: RoleRef; subjects?: Subject[] } | undefined;
  const ref = roleRef ?? spec?.roleRef;
  if (!ref?.name) return undefined;
  const subjects = (kind === 'OrganizationRoleBinding' ? spec?.subjects : (object.subjects as Subject[] | undefined)) ?? [];
  return { kind, name: object.metadata.name!, namespace: object.metadata.namespace, roleRef: ref, subjects };
}

function organizationRefOf(object: KubeObject): string | undefined {
  const ref = (object.spec as { organizationRef?: string | { name?: string } } | undefined)?.organizationRef;
  return typeof ref === 'string' ? ref : ref?.name;
}

export class PolicyIndex {
  private snapshot?: Snapshot;
  private registrations: WatchRegistration[] = [];
  private stopped = false;

  constructor(private readonly cache: WatchCache) {}

  start(): void {
    this.stopped = false;
    for (const prefix of Object.values(PREFIXES)) this.subscribe(prefix);
  }

  stop(): void {
    this.stopped = true;
    for (const registration of this.registrations) registration.cancel();
    this.registrations = [];
  }

  private subscribe(prefix: string): void {
    const { registration } = this.cache.watch(
      {
        keyPrefix: prefix,
        onEvent: () => (this.snapshot = undefined),
        onTerminate: () => {
          // The cache re-initialised: everything may have changed, and this subscription ended with it.
          this.snapshot = undefined;
          if (!this.stopped) queueMicrotask(() => this.subscribe(prefix));
        },
      },
      undefined,
    );
    this.registrations.push(registration);
  }

  private current(): Snapshot {
    if (this.snapshot) return this.snapshot;
    const objects = (prefix: string) => this.cache.list(prefix).map((entry) => entry.object);
    const snapshot: Snapshot = {
      clusterRoleRules: new Map(objects(PREFIXES.clusterRoles).map((role) => [role.metadata.name!, rulesOf(role)])),
      roleRules: new Map(objects(PREFIXES.roles).map((role) => [`${role.metadata.namespace}/${role.metadata.name}`, rulesOf(role)])),
      clusterRoleBindings: objects(PREFIXES.clusterRoleBindings).flatMap((object) => bindingOf('ClusterRoleBinding', object) ?? []),
      roleBindingsByNamespace: new Map(),
      organizationBindingsByOrganization: new Map(),
      organizationOfProject: new Map(),
    };
    for (const object of objects(PREFIXES.roleBindings)) {
      const binding = bindingOf('RoleBinding', object);
      if (!binding) continue;
      const list = snapshot.roleBindingsByNamespace.get(binding.namespace!) ?? [];
      list.push(binding);
      snapshot.roleBindingsByNamespace.set(binding.namespace!, list);
    }
    for (const object of objects(PREFIXES.organizationRoleBindings)) {
      const binding = bindingOf('OrganizationRoleBinding', object);
      const organization = organizationRefOf(object);
      if (!binding || !organization) continue;
      const list = snapshot.organizationBindingsByOrganization.get(organization) ?? [];
      list.push(binding);
      snapshot.organizationBindingsByOrganization.set(organization, list);
    }
    for (const project of objects(PREFIXES.projects)) {
      const organization = organizationRefOf(project);
      // A Project being deleted still scopes its namespace until both are gone: its tenants keep access to
      // what is being torn down, nobody else gains any.
      if (organization) snapshot.organizationOfProject.set(project.metadata.name!, organization);
    }
    this.snapshot = snapshot;
    return snapshot;
  }

  /** The rules a binding's role grants; undefined when the role does not exist (yet). */
  rulesOfRef(ref: RoleRef, namespace: string | undefined): PolicyRule[] | undefined {
    const snapshot = this.current();
    if (ref.kind === 'ClusterRole') return snapshot.clusterRoleRules.get(ref.name);
    if (ref.kind === 'Role' && namespace) return snapshot.roleRules.get(`${namespace}/${ref.name}`);
    return undefined;
  }

  clusterRoleBindings(): readonly Binding[] {
    return this.current().clusterRoleBindings;
  }

  roleBindings(namespace: string): readonly Binding[] {
    return this.current().roleBindingsByNamespace.get(namespace) ?? [];
  }

  organizationBindings(organization: string): readonly Binding[] {
    return this.current().organizationBindingsByOrganization.get(organization) ?? [];
  }

  /** Every OrganizationRoleBinding, with the organization it grants in. */
  allOrganizationBindings(): ReadonlyMap<string, readonly Binding[]> {
    return this.current().organizationBindingsByOrganization;
  }

  /** The organization whose Project owns this namespace; undefined for system namespaces. */
  organizationOfNamespace(namespace: string): string | undefined {
    return this.current().organizationOfProject.get(namespace);
  }

  organizationOfProject(project: string): string | undefined {
    return this.current().organizationOfProject.get(project);
  }
}
