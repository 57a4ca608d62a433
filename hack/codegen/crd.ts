// Reading crds/*.yaml into the little the type generator needs to know about each CustomResourceDefinition.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';

/** A node of a Kubernetes structural schema (apiextensions.k8s.io/v1 JSONSchemaProps), loosely typed. */
export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  [keyword: string]: unknown;
}

export interface CrdVersionInfo {
  name: string;
  schema: SchemaNode;
}

export interface CrdInfo {
  /** Path relative to the repository root, e.g. crds/network.vpcs.yaml. */
  file: string;
  group: string;
  /** First label of the group (network for network.photoncloud.io): the folder under apis/. */
  area: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  /** Served versions, in the order the CRD lists them. */
  versions: CrdVersionInfo[];
}

function fail(file: string, message: string): never {
  throw new Error(`${file}: ${message}`);
}

function str(file: string, value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') fail(file, `${what} must be a non-empty string`);
  return value;
}

/** Parses one CRD document; throws with the file name on anything the generator cannot work with. */
export function describeCrd(file: string, text: string): CrdInfo {
  const doc = parse(text) as Record<string, any> | null;
  if (!doc || doc.apiVersion !== 'apiextensions.k8s.io/v1' || doc.kind !== 'CustomResourceDefinition') {
    fail(file, 'not an apiextensions.k8s.io/v1 CustomResourceDefinition');
  }
  const spec = doc.spec ?? fail(file, 'spec missing');
  const group = str(file, spec.group, 'spec.group');
  const names = spec.names ?? fail(file, 'spec.names missing');
  const kind = str(file, names.kind, 'spec.names.kind');
  const versions: CrdVersionInfo[] = [];
  for (const v of (spec.versions ?? []) as Record<string, any>[]) {
    if (!v.served) continue;
    const schema = v.schema?.openAPIV3Schema ?? fail(file, `version ${v.name} has no schema.openAPIV3Schema`);
    versions.push({ name: str(file, v.name, 'spec.versions[].name'), schema });
  }
  if (versions.length === 0) fail(file, 'no served version');
  return {
    file,
    group,
    area: group.split('.')[0]!,
    kind,
    listKind: names.listKind ?? `${kind}List`,
    plural: str(file, names.plural, 'spec.names.plural'),
    singular: names.singular ?? kind.toLowerCase(),
    namespaced: spec.scope === 'Namespaced',
    versions,
  };
}

/** Every crds/*.yaml under root, sorted by file name so that output never depends on directory order. */
export async function loadCrds(root: string): Promise<CrdInfo[]> {
  const dir = path.join(root, 'crds');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  const crds: CrdInfo[] = [];
  for (const f of files) {
    const rel = `crds/${f}`;
    crds.push(describeCrd(rel, await readFile(path.join(dir, f), 'utf8')));
  }
  return crds;
}
