// Resource identities: what the client needs to build URLs and fill apiVersion/kind. The generated
// `<Kind>Resource` constants in apis/<group>/v1alpha1/ fit ResourceRef; the built-in kinds are here.
import type { ObjectMeta } from '../meta/types.ts';

export interface ResourceRef {
  /** API group; '' for the core group (served under /api/v1). */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  kind: string;
}

export const NamespaceResource = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace', apiVersion: 'v1' } as const;
export const ConfigMapResource = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap', apiVersion: 'v1' } as const;
export const SecretResource = { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret', apiVersion: 'v1' } as const;
export const ServiceAccountResource = { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true, kind: 'ServiceAccount', apiVersion: 'v1' } as const;
/** core v1 Event (what `kubectl get events` and `kubectl describe` read). */
export const EventResource = { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event', apiVersion: 'v1' } as const;
/** events.k8s.io/v1 Event: the same events in the newer form. */
export const EventsV1EventResource = { group: 'events.k8s.io', version: 'v1', plural: 'events', namespaced: true, kind: 'Event', apiVersion: 'events.k8s.io/v1' } as const;
export const LeaseResource = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true, kind: 'Lease', apiVersion: 'coordination.k8s.io/v1' } as const;

/** `v1` for the core group, `<group>/<version>` otherwise. */
export function apiVersionOf(resource: Pick<ResourceRef, 'group' | 'version'>): string {
  return resource.group ? `${resource.group}/${resource.version}` : resource.version;
}

/** `vpcs.network.photoncloud.io`, or `namespaces` for the core group (for messages and map keys). */
export function groupResourceOf(resource: Pick<ResourceRef, 'group' | 'plural'>): string {
  return resource.group ? `${resource.plural}.${resource.group}` : resource.plural;
}

// ---- built-in object shapes (the fields PhotonCloud uses) ----

export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

export interface Namespace {
  apiVersion?: 'v1';
  kind?: 'Namespace';
  metadata: ObjectMeta;
  spec?: { finalizers?: string[] };
  status?: { phase?: 'Active' | 'Terminating'; conditions?: Array<{ type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }> };
  [field: string]: unknown;
}

export interface ConfigMap {
  apiVersion?: 'v1';
  kind?: 'ConfigMap';
  metadata: ObjectMeta;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
  [field: string]: unknown;
}

export interface Secret {
  apiVersion?: 'v1';
  kind?: 'Secret';
  metadata: ObjectMeta;
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  immutable?: boolean;
  [field: string]: unknown;
}

/** core v1 Event. */
export interface CoreEvent {
  apiVersion?: 'v1';
  kind?: 'Event';
  metadata: ObjectMeta;
  involvedObject: ObjectReference;
  reason?: string;
  message?: string;
  source?: { component?: string; host?: string };
  firstTimestamp?: string;
  lastTimestamp?: string;
  count?: number;
  type?: 'Normal' | 'Warning' | string;
  eventTime?: string;
  action?: string;
  related?: ObjectReference;
  reportingComponent?: string;
  reportingInstance?: string;
  [field: string]: unknown;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: 'coordination.k8s.io/v1';
  kind?: 'Lease';
  metadata: ObjectMeta;
  spec?: LeaseSpec;
  [field: string]: unknown;
}

/**
 * The Lease API's expiry rule: expired once renewTime + leaseDurationSeconds has passed (a Lease without a
 * readable renewTime is expired). `defaultDurationSeconds` stands in for a missing duration.
 */
export function leaseExpired(spec: LeaseSpec | undefined, nowMs: number, defaultDurationSeconds = 0): boolean {
  const renewedMs = spec?.renewTime ? Date.parse(spec.renewTime) : Number.NaN;
  return !Number.isFinite(renewedMs) || renewedMs + (spec?.leaseDurationSeconds ?? defaultDurationSeconds) * 1000 < nowMs;
}
