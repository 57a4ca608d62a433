// Which resources exist (discovery), and how an ownerReference's apiVersion/kind maps to one of them.
import type { ApiClient, ResourceRef } from '../../apis/client/index.ts';

interface ApiResource {
  name: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
}

interface ApiResourceList {
  groupVersion: string;
  resources: ApiResource[];
}

interface ApiGroupList {
  groups: Array<{ name: string; versions: Array<{ groupVersion: string; version: string }>; preferredVersion?: { version: string } }>;
}

export interface Discovery {
  /** One entry per resource (its preferred version) that can be listed, watched and deleted. */
  resources: ResourceRef[];
  /** `apiVersion kind` (every served version) → the resource. */
  byKind: Map<string, ResourceRef>;
}

const kindKey = (apiVersion: string, kind: string) => `${apiVersion} ${kind}`;

export function resourceForKind(discovery: Discovery, apiVersion: string, kind: string): ResourceRef | undefined {
  return discovery.byKind.get(kindKey(apiVersion, kind));
}

export async function discover(client: ApiClient): Promise<Discovery> {
  const groups = await client.requestJson<ApiGroupList>({ method: 'GET', path: '/apis' });
  const versions: Array<{ group: string; version: string; preferred: boolean }> = [{ group: '', version: 'v1', preferred: true }];
  for (const group of groups.groups) {
    const preferred = group.preferredVersion?.version ?? group.versions[0]?.version;
    for (const version of group.versions) versions.push({ group: group.name, version: version.version, preferred: version.version === preferred });
  }
  const resources: ResourceRef[] = [];
  const byKind = new Map<string, ResourceRef>();
  const lists = await Promise.all(
    versions.map(({ group, version }) => client.requestJson<ApiResourceList>({ method: 'GET', path: group ? `/apis/${group}/${version}` : `/api/${version}` }).catch(() => undefined)),
  );
  lists.forEach((list, index) => {
    if (!list) return;
    const { group, version, preferred } = versions[index];
    for (const resource of list.resources) {
      if (resource.name.includes('/')) continue; // subresources
      const ref: ResourceRef = { group, version, plural: resource.name, namespaced: resource.namespaced, kind: resource.kind };
      byKind.set(kindKey(group ? `${group}/${version}` : version, resource.kind), ref);
      const usable = ['list', 'watch', 'delete'].every((verb) => resource.verbs.includes(verb));
      if (preferred && usable) resources.push(ref);
    }
  });
  return { resources, byKind };
}
