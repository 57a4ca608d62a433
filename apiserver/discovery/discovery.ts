// Discovery documents: /api, /apis, /apis/<group>, /apis/<group>/<version> and the aggregated form
// (apidiscovery.k8s.io/v2, one request for everything) that kubectl ≥1.30 asks for first.
import type { ResourceRegistry } from '../registry/registry.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import { parseAccept } from '../http/negotiate.ts';

const SUBRESOURCE_VERBS = { status: ['get', 'patch', 'update'] };

export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

export function apiGroupList(registry: ResourceRegistry) {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: registry.groups().map(({ group, versions }) => apiGroup(group, versions)),
  };
}

export function apiGroup(group: string, versions: string[]) {
  const entries = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: entries, preferredVersion: entries[0] };
}

function resourceEntries(resource: ResourceInfo) {
  const entry: Record<string, unknown> = {
    name: resource.plural,
    singularName: resource.singular,
    namespaced: resource.namespaced,
    kind: resource.kind,
    verbs: resource.verbs,
  };
  if (resource.shortNames.length > 0) entry.shortNames = resource.shortNames;
  if (resource.categories.length > 0) entry.categories = resource.categories;
  const entries = [entry];
  if (resource.hasStatus) {
    entries.push({ name: `${resource.plural}/status`, singularName: '', namespaced: resource.namespaced, kind: resource.kind, verbs: SUBRESOURCE_VERBS.status });
  }
  for (const name of resource.readSubresources ?? []) {
    entries.push({ name: `${resource.plural}/${name}`, singularName: '', namespaced: resource.namespaced, kind: resource.kind, verbs: ['get'] });
  }
  for (const { name, kind } of resource.createSubresources ?? []) {
    entries.push({ name: `${resource.plural}/${name}`, singularName: '', namespaced: resource.namespaced, group: kind.group, version: kind.version, kind: kind.kind, verbs: ['create'] });
  }
  return entries;
}

export function apiResourceList(registry: ResourceRegistry, group: string, version: string) {
  const resources = registry.inGroupVersion(group, version);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: resources.flatMap(resourceEntries),
  };
}

function discoveryResource(resource: ResourceInfo) {
  const responseKind = { group: resource.group, version: resource.version, kind: resource.kind };
  const entry: Record<string, unknown> = {
    resource: resource.plural,
    responseKind,
    scope: resource.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: resource.singular,
    verbs: resource.verbs,
  };
  if (resource.shortNames.length > 0) entry.shortNames = resource.shortNames;
  if (resource.categories.length > 0) entry.categories = resource.categories;
  const subresources: Array<Record<string, unknown>> = [];
  if (resource.hasStatus) subresources.push({ subresource: 'status', responseKind, verbs: SUBRESOURCE_VERBS.status });
  for (const { name, kind } of resource.createSubresources ?? []) subresources.push({ subresource: name, responseKind: kind, verbs: ['create'] });
  for (const name of resource.readSubresources ?? []) subresources.push({ subresource: name, responseKind, verbs: ['get'] });
  if (subresources.length > 0) entry.subresources = subresources;
  return entry;
}

/** The aggregated discovery version the client accepts, if any ('v2' preferred over 'v2beta1'). */
export function aggregatedDiscoveryVersion(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  let found: 'v2' | 'v2beta1' | undefined;
  for (const range of parseAccept(accept)) {
    if (range.type !== 'application/json') continue;
    const { g, v, as } = range.params;
    if (g === 'apidiscovery.k8s.io' && as === 'APIGroupDiscoveryList' && (v === 'v2' || v === 'v2beta1')) {
      if (v === 'v2') return v;
      found ??= v;
    }
    if (!as) break; // plain JSON ranks above anything after it (and above everything when first: unaggregated)
  }
  return found;
}

export function aggregatedContentType(version: 'v2' | 'v2beta1'): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

/** Aggregated discovery for /apis (named groups) or /api (the core group). */
export function aggregatedDiscovery(registry: ResourceRegistry, version: 'v2' | 'v2beta1', core: boolean) {
  const groups = core ? [{ group: '', versions: ['v1'] }] : registry.groups();
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: groups.map(({ group, versions }) => ({
      metadata: group ? { name: group } : {},
      versions: versions.map((groupVersion) => ({
        version: groupVersion,
        resources: registry.inGroupVersion(group, groupVersion).map(discoveryResource),
        freshness: 'Current',
      })),
    })),
  };
}
