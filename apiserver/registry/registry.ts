// The set of resources the server serves. It changes at run time (CRDs come and go), so discovery,
// OpenAPI and routing always ask it rather than caching their own copy; listeners hear about changes.
import { apiVersionOf, groupResource, type ResourceInfo } from './resource.ts';

/** The source of the kinds the server implements itself (Namespace, Lease, CustomResourceDefinition, …). */
export const BUILTIN_SOURCE = 'builtin';

/**
 * Why a resource cannot be served: its names or storage are another source's. `reason` is the CRD
 * NamesAccepted reason Kubernetes uses for the clash (PluralConflict, KindConflict, …).
 */
export class ResourceConflict extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ResourceConflict';
  }
}

/** Names kubectl and URLs resolve within a group: plural, singular and short names share one space. */
function resourceNames(resource: ResourceInfo): string[] {
  return [resource.plural, resource.singular, ...(resource.shortNames ?? [])].filter((name) => name);
}

/**
 * Whether `resource` may be served next to `existing`, which another source serves. Refused:
 *   - the same storage (an alias would read, and a CRD's cleanup would delete, the other's objects);
 *   - any resource in a group the server serves built-in kinds in (CRDs never extend built-in groups);
 *   - in one group, a plural, singular or short name, or a kind or list kind, that the other uses (as
 *     Kubernetes' naming controller refuses them: a shadowed kind would send owner lookups, and the
 *     garbage collector, to the wrong resource).
 * A kind that exists in another group is fine, as in Kubernetes.
 */
function conflictWith(resource: ResourceInfo, existing: ResourceInfo): ResourceConflict | undefined {
  const what = groupResource(resource);
  if (existing.group === resource.group && existing.plural === resource.plural) return new ResourceConflict('PluralConflict', `${what} is already served by ${existing.source}`);
  if (existing.storagePrefix === resource.storagePrefix) {
    return new ResourceConflict('PluralConflict', `${what} would be stored under ${resource.storagePrefix}, which ${groupResource(existing)} (${existing.source}) uses`);
  }
  if (existing.group !== resource.group) return undefined;
  if (existing.source === BUILTIN_SOURCE) return new ResourceConflict('PluralConflict', `${what}: the group "${resource.group}" is served by the API server itself`);
  const taken = new Set(resourceNames(existing));
  const name = resourceNames(resource).find((candidate) => taken.has(candidate));
  if (name !== undefined) {
    const reason = name === resource.plural ? 'PluralConflict' : name === resource.singular ? 'SingularConflict' : 'ShortNamesConflict';
    return new ResourceConflict(reason, `"${name}" is already in use by ${existing.source}`);
  }
  const kinds = new Set([existing.kind, existing.listKind]);
  if (kinds.has(resource.kind)) return new ResourceConflict('KindConflict', `kind "${resource.kind}" is already in use by ${existing.source}`);
  if (kinds.has(resource.listKind)) return new ResourceConflict('ListKindConflict', `list kind "${resource.listKind}" is already in use by ${existing.source}`);
  return undefined;
}

export interface GroupVersions {
  group: string;
  /** Served versions, preferred (highest priority) first. */
  versions: string[];
}

export class ResourceRegistry {
  private readonly resources = new Map<string, ResourceInfo>();
  private readonly listeners = new Set<() => void>();
  /** Bumped on every change; caches of derived documents (discovery, OpenAPI) key on it. */
  generation = 0;

  private static id(group: string, version: string, plural: string): string {
    return `${group}/${version}/${plural}`;
  }

  /**
   * Adds or replaces every version a source (CRD or builtin) serves, removing versions it no longer serves.
   * Throws a ResourceConflict, changing nothing, when another source already holds any of its names or its
   * storage (see conflictWith): a source can never take over, or share, what another one serves.
   */
  setSource(source: string, resources: ResourceInfo[]): void {
    // Check every clash first: a refused update must leave the source serving exactly what it served before.
    const incoming = new Map<string, ResourceInfo>();
    for (const resource of resources) {
      const id = ResourceRegistry.id(resource.group, resource.version, resource.plural);
      if (incoming.has(id)) throw new ResourceConflict('PluralConflict', `${groupResource(resource)}/${resource.version} is already served by ${source}`);
      for (const existing of this.resources.values()) {
        if (existing.source === source) continue;
        const conflict = conflictWith(resource, existing);
        if (conflict) throw conflict;
      }
      incoming.set(id, resource);
    }
    for (const [id, existing] of this.resources) if (existing.source === source) this.resources.delete(id);
    for (const [id, resource] of incoming) this.resources.set(id, resource);
    this.changed();
  }

  /** What a source serves now (every version of one CRD shares one storage prefix, owned by it alone). */
  resourcesOf(source: string): ResourceInfo[] {
    return this.all().filter((resource) => resource.source === source);
  }

  removeSource(source: string): void {
    for (const [id, existing] of this.resources) if (existing.source === source) this.resources.delete(id);
    this.changed();
  }

  get(group: string, version: string, plural: string): ResourceInfo | undefined {
    return this.resources.get(ResourceRegistry.id(group, version, plural));
  }

  /** The resource serving a kind in an apiVersion (`network.photoncloud.io/v1alpha1`, `v1`). */
  byKind(apiVersion: string, kind: string): ResourceInfo | undefined {
    for (const resource of this.resources.values()) if (resource.kind === kind && apiVersionOf(resource) === apiVersion) return resource;
    return undefined;
  }

  /** Any served version of group/plural (every version of a resource shares its storage), without sorting. */
  byGroupResource(group: string, plural: string): ResourceInfo | undefined {
    for (const resource of this.resources.values()) if (resource.group === group && resource.plural === plural) return resource;
    return undefined;
  }

  all(): ResourceInfo[] {
    return [...this.resources.values()].sort((a, b) => (a.group + a.version + a.plural).localeCompare(b.group + b.version + b.plural));
  }

  /** Resources of one group version, sorted by plural. */
  inGroupVersion(group: string, version: string): ResourceInfo[] {
    return this.all().filter((resource) => resource.group === group && resource.version === version);
  }

  /** Named API groups (the core group "" is served under /api, not /apis). */
  groups(): GroupVersions[] {
    const byGroup = new Map<string, Set<string>>();
    for (const resource of this.resources.values()) {
      if (!resource.group) continue;
      if (!byGroup.has(resource.group)) byGroup.set(resource.group, new Set());
      byGroup.get(resource.group)!.add(resource.version);
    }
    return [...byGroup.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([group, versions]) => ({ group, versions: [...versions].sort(compareKubeVersions) }));
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.generation++;
    for (const listener of this.listeners) listener();
  }
}

/**
 * Kubernetes' version priority: GA > beta > alpha, higher numbers first, then anything else alphabetically
 * (v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > foo).
 */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (version: string) => {
    const match = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(version);
    if (!match) return { rank: 0, major: 0, minor: 0 };
    const rank = match[2] === undefined ? 3 : match[2] === 'beta' ? 2 : 1;
    return { rank, major: Number(match[1]), minor: Number(match[3] ?? 0) };
  };
  const left = parse(a);
  const right = parse(b);
  if (left.rank === 0 && right.rank === 0) return a.localeCompare(b);
  if (left.rank !== right.rank) return right.rank - left.rank;
  if (left.major !== right.major) return right.major - left.major;
  return right.minor - left.minor;
}
