// CustomResourceDefinition (apiextensions.k8s.io/v1) → the ResourceInfo of each served version.
import { schemaPatternProblems } from '../schema/schema-patterns.ts';
import { ObjectSchema } from '../schema/schema-validator.ts';
import type { JSONSchemaProps } from '../schema/structural-schema.ts';
import type { NameFormat } from '../admission/metadata.ts';
import { ALL_VERBS, storagePrefixFor, type PrinterColumn, type ResourceInfo } from './resource.ts';

export interface CustomResourceDefinitionVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: JSONSchemaProps };
  subresources?: { status?: Record<string, never>; scale?: unknown };
  additionalPrinterColumns?: PrinterColumn[];
  selectableFields?: Array<{ jsonPath: string }>;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; annotations?: Record<string, string>; uid?: string };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[]; categories?: string[] };
    versions: CustomResourceDefinitionVersion[];
  };
}

/** Annotation on a CRD choosing how object names are checked (PhotonCloud kinds use DNS-1123 labels). */
export const NAME_FORMAT_ANNOTATION = 'photoncloud.io/name-format';

export class CrdError extends Error {}

/** Domains Kubernetes keeps for its own APIs. */
const PROTECTED_DOMAINS = ['k8s.io', 'kubernetes.io'];

/**
 * Whether a group is k8s.io, kubernetes.io or a subdomain of one (apps.k8s.io, x.kubernetes.io; not
 * x-k8s.io). Kubernetes accepts CRDs there only with an `api-approved.kubernetes.io` annotation; PhotonCloud
 * serves its own built-in kinds in such groups and refuses CRDs in them whatever the annotation says.
 * Case and trailing dots are ignored here (such groups are invalid anyway), so no spelling slips past.
 */
export function isProtectedGroup(group: string): boolean {
  const normalized = group.toLowerCase().replace(/\.+$/, '');
  return PROTECTED_DOMAINS.some((domain) => normalized === domain || normalized.endsWith(`.${domain}`));
}

export function resourcesFromCrd(crd: CustomResourceDefinition): { resources: ResourceInfo[]; warnings: string[] } {
  const { spec } = crd;
  if (crd.metadata.name !== `${spec.names.plural}.${spec.group}`) {
    throw new CrdError(`CustomResourceDefinition ${crd.metadata.name}: metadata.name must be spec.names.plural+"."+spec.group`);
  }
  const storageVersions = spec.versions.filter((version) => version.storage);
  if (storageVersions.length !== 1) throw new CrdError(`CustomResourceDefinition ${crd.metadata.name}: exactly one version must be the storage version`);
  const nameFormat = (crd.metadata.annotations?.[NAME_FORMAT_ANNOTATION] as NameFormat | undefined) ?? 'dns1123-subdomain';
  const readSubresources = readSubresourcesOf(crd.metadata.annotations?.[READ_SUBRESOURCES_ANNOTATION]);
  if (nameFormat !== 'dns1123-label' && nameFormat !== 'dns1123-subdomain') throw new CrdError(`annotation ${NAME_FORMAT_ANNOTATION} must be dns1123-label or dns1123-subdomain`);
  refuseUnsafePatterns(spec.versions);
  const warnings: string[] = [];
  const resources = spec.versions
    .filter((version) => version.served)
    .map((version): ResourceInfo => {
      const openAPISchema = version.schema?.openAPIV3Schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
      const schema = new ObjectSchema(openAPISchema);
      warnings.push(...schema.warnings.map((warning) => `${crd.metadata.name}/${version.name}: ${warning}`));
      return {
        group: spec.group,
        version: version.name,
        kind: spec.names.kind,
        listKind: spec.names.listKind ?? `${spec.names.kind}List`,
        plural: spec.names.plural,
        singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
        namespaced: spec.scope === 'Namespaced',
        shortNames: spec.names.shortNames ?? [],
        categories: spec.names.categories ?? [],
        verbs: ALL_VERBS,
        hasStatus: version.subresources?.status !== undefined,
        printerColumns: version.additionalPrinterColumns ?? [],
        selectableFields: (version.selectableFields ?? []).map((field) => field.jsonPath.replace(/^\./, '')),
        nameFormat,
        ...(readSubresources.length ? { readSubresources } : {}),
        openAPISchema,
        schema,
        strategy: {},
        storagePrefix: storagePrefixFor(spec.group, spec.names.plural),
        source: crd.metadata.name,
        tracksGeneration: true,
        storageApiVersion: `${spec.group}/${storageVersions[0].name}`,
      };
    });
  return { resources, warnings };
}

/**
 * Read-only subresources the API server serves for a kind beside the CRD (in the shape of pods/log), named in
 * this annotation, comma-separated. Only names the server has a handler for are accepted: `console`.
 */
export const READ_SUBRESOURCES_ANNOTATION = 'photoncloud.io/read-subresources';
const KNOWN_READ_SUBRESOURCES = ['console'];

function readSubresourcesOf(annotation: string | undefined): string[] {
  const names = (annotation ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !KNOWN_READ_SUBRESOURCES.includes(name));
  if (unknown.length > 0) throw new CrdError(`annotation ${READ_SUBRESOURCES_ANNOTATION}: unknown subresource ${unknown.join(', ')} (known: ${KNOWN_READ_SUBRESOURCES.join(', ')})`);
  return names;
}

/**
 * Every version's schema, served or not, may only have patterns RE2 runs cheaply (see
 * admission/schema-patterns.ts); the error names each refused pattern by its full field path.
 */
function refuseUnsafePatterns(versions: CustomResourceDefinitionVersion[]): void {
  const problems = versions.flatMap((version, index) =>
    schemaPatternProblems(version.schema?.openAPIV3Schema).map(({ path, message }) => {
      const field = `spec.versions[${index}].schema.openAPIV3Schema${path ? `.${path}` : ''}`;
      return `${field}: ${message}`;
    }),
  );
  if (problems.length === 0) return;
  const shown = problems.slice(0, 10).join('; ');
  throw new CrdError(problems.length > 10 ? `${shown}; and ${problems.length - 10} more` : shown);
}
