// The set of resources the server serves. It changes at run time (CRDs come and go), so discovery,
// OpenAPI and routing always ask it rather than caching their own copy; listeners hear about changes.
import { apiVersionOf, type ResourceInfo } from './resource.ts';

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

  /** Adds or replaces every version a source (CRD or builtin) serves, removing versions it no longer serves. */
  setSource(source: string, resources: ResourceInfo[]): void {
    // Check every clash first: a refused update must leave the source serving exactly what it served before.
    const incoming = new Map<string, ResourceInfo>();
    for (const resource of resources) {
      const id = ResourceRegistry.id(resource.group, resource.version, resource.plural);
      const existing = this.resources.get(id);
      const clash = incoming.get(id) ?? (existing && existing.source !== source ? existing : undefined);
      if (clash) throw new Error(`${resource.plural}.${resource.group}/${resource.version} is already served by ${clash.source}`);
      incoming.set(id, resource);
    }
    for (const [id, existing] of this.resources) if (existing.source === source) this.resources.delete(id);
    for (const [id, resource] of incoming) this.resources.set(id, resource);
    this.changed();
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
