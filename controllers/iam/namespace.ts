// A Project's namespace as plain data: what it should look like, and whether the namespace of that name is
// the Project's at all. Pure, so the rules that keep a Project from taking over someone else's namespace
// are unit-tested on their own (namespace.test.ts).
import type { Namespace } from '../../apis/client/index.ts';
import type { Project } from '../../apis/iam/v1alpha1/index.ts';
import { jsonEqual } from '../../apis/meta/equality.ts';
import type { OwnerReference } from '../../apis/meta/types.ts';
import { ORGANIZATION_LABEL, organizationOf, PROJECT_LABEL, projectOwnerReference, RESERVED_NAMESPACES } from './names.ts';

export function projectLabels(project: Project): Record<string, string> {
  return { [PROJECT_LABEL]: project.metadata.name!, [ORGANIZATION_LABEL]: organizationOf(project) };
}

/** The namespace to create for a Project: named exactly as the Project, labelled, owned by it. */
export function desiredNamespace(project: Project): Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: project.metadata.name!, labels: projectLabels(project), ownerReferences: [projectOwnerReference(project)] } };
}

export type Ownership =
  /** Its ownerReference names this Project (by UID). */
  | { kind: 'owned' }
  /** Made for this Project before it existed (labelled with its name) and owned by no Project: take it. */
  | { kind: 'adoptable' }
  | { kind: 'conflict'; message: string };

const isProjectReference = (reference: OwnerReference) => reference.kind === 'Project' && reference.apiVersion.startsWith('iam.photoncloud.io/');

/**
 * Whose the existing namespace of the Project's name is. Only an ownerReference with this Project's UID
 * makes it the Project's; a namespace carrying the Project's label and no Project owner (say
 * crds/examples/00-namespace.yaml, applied with the Project) is adopted. Anything else is a conflict and is
 * never touched: a system namespace, someone's hand-made one, or the namespace of an earlier Project of the
 * same name (another UID) that the garbage collector has yet to remove.
 */
export function ownershipOf(namespace: Namespace, project: Project): Ownership {
  const name = project.metadata.name!;
  if (RESERVED_NAMESPACES.has(name)) return { kind: 'conflict', message: `namespace ${name} is reserved for the system; a Project cannot be named ${name}` };
  const owners = (namespace.metadata.ownerReferences ?? []).filter(isProjectReference);
  if (owners.some((owner) => owner.uid === project.metadata.uid)) return { kind: 'owned' };
  if (owners.length > 0) return { kind: 'conflict', message: `namespace ${name} belongs to another Project ${owners[0]!.name} (uid ${owners[0]!.uid}); it goes once that Project's deletion completes` };
  if (namespace.metadata.labels?.[PROJECT_LABEL] === name) return { kind: 'adoptable' };
  return { kind: 'conflict', message: `namespace ${name} already exists and belongs to no Project (a system namespace); label it ${PROJECT_LABEL}=${name} to hand it to this Project` };
}

/**
 * The merge patch that makes an owned or adoptable namespace carry the Project's labels and ownerReference,
 * or undefined when it already does. It carries the namespace's resourceVersion, so a patch computed from a
 * stale view is refused (409) instead of dropping someone else's ownerReference.
 */
export function namespacePatch(namespace: Namespace, project: Project): Record<string, unknown> | undefined {
  const labels = projectLabels(project);
  const reference = projectOwnerReference(project);
  const references = namespace.metadata.ownerReferences ?? [];
  const missingLabels = Object.fromEntries(Object.entries(labels).filter(([key, value]) => namespace.metadata.labels?.[key] !== value));
  const ownedAlready = references.some((owner) => jsonEqual(owner, reference));
  if (Object.keys(missingLabels).length === 0 && ownedAlready) return undefined;
  const metadata: Record<string, unknown> = { resourceVersion: namespace.metadata.resourceVersion };
  if (Object.keys(missingLabels).length > 0) metadata.labels = missingLabels;
  // Merge patch replaces lists whole: keep every other owner, replace a stale copy of ours.
  if (!ownedAlready) metadata.ownerReferences = [...references.filter((owner) => owner.uid !== reference.uid), reference];
  return { metadata };
}
