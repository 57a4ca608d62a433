// Warning Events about CustomResourceDefinitions the CRD controller cannot serve, so `kubectl describe crd`
// and `kubectl get events` show why. CRDs are cluster-scoped: their Events go to the `default` namespace, as
// Kubernetes records Events about cluster-scoped objects.
import type { KubeObject } from '../../apis/meta/types.ts';
import { validateName } from '../admission/metadata.ts';
import { truncateEcho } from '../errors.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import { timestamp } from '../../apis/meta/time.ts';
import type { ObjectStore } from '../registry/object-store.ts';
import type { ResourceRegistry } from '../registry/registry.ts';

const EVENT_NAMESPACE = 'default';
/** Kubernetes cuts Event messages at 1 KiB. */
const MAX_MESSAGE = 1024;

/**
 * Records a Warning Event about a CRD. `name` is the name the CRD is stored under, which a malformed stored
 * object may make unusable as an Event name prefix; then a fixed prefix is used.
 */
export async function recordCrdWarning(objects: ObjectStore, registry: ResourceRegistry, crd: { name: string; uid?: string }, reason: string, message: string): Promise<void> {
  const events = registry.get('', 'v1', 'events');
  if (!events) return;
  const prefix = crd.name.length <= 200 && validateName(crd.name, 'dns1123-subdomain').length === 0 ? crd.name : 'customresourcedefinition';
  const now = timestamp();
  const event: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${prefix}.` },
    involvedObject: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: crd.name, ...(crd.uid ? { uid: crd.uid } : {}) },
    reason,
    message: truncateEcho(message, MAX_MESSAGE),
    type: 'Warning',
    source: { component: 'apiextensions-apiserver' },
    reportingComponent: 'photoncloud.io/crd-controller',
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
  await objects.create(events, EVENT_NAMESPACE, event, defaultWriteOptions());
}
