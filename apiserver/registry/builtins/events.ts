// Events, served in both Kubernetes forms from one store: core v1 Event (what `kubectl describe` and
// `kubectl get events` read) and events.k8s.io/v1 Event (what newer recorders write). They are stored once,
// as core v1, and converted field by field, as Kubernetes does. Events expire (apiserver/housekeeping).
import type { KubeObject } from '../../../apis/meta/types.ts';
import type { FieldError } from '../../errors.ts';
import type { PrinterColumn, ResourceInfo } from '../resource.ts';
import { builtinResource, int, microTime, objectReference, str, time } from './define.ts';

const source = { type: 'object' as const, description: 'The component reporting this event.', properties: { component: str('Component from which the event is generated.'), host: str('Node name on which the event is generated.') } };
const series = { type: 'object' as const, description: 'Data about the event series this event represents.', properties: { count: int('Number of occurrences in this series up to the last heartbeat time.'), lastObservedTime: microTime('Time of the last occurrence observed.') } };

/** When an event last happened: what expiry and LAST SEEN are measured from. */
export function lastSeen(event: KubeObject): string | undefined {
  const seriesTime = (event.series as { lastObservedTime?: string } | undefined)?.lastObservedTime;
  return seriesTime ?? (event.lastTimestamp as string | undefined) ?? (event.deprecatedLastTimestamp as string | undefined) ?? (event.eventTime as string | undefined) ?? event.metadata.creationTimestamp;
}

function describeObject(reference: unknown): string {
  const object = (reference ?? {}) as { kind?: string; name?: string };
  return `${(object.kind ?? '').toLowerCase()}/${object.name ?? ''}`;
}

function eventColumns(regarding: string, message: string, component: string, count: string): PrinterColumn[] {
  return [
    { name: 'Last Seen', type: 'date', jsonPath: '.lastTimestamp', description: 'Time since the event last happened', value: lastSeen },
    { name: 'Type', type: 'string', jsonPath: '.type', description: 'Normal or Warning' },
    { name: 'Reason', type: 'string', jsonPath: '.reason', description: 'Why the event happened (CamelCase)' },
    { name: 'Object', type: 'string', jsonPath: `.${regarding}`, description: 'The object the event is about', value: (event) => describeObject(event[regarding]) },
    { name: 'Subobject', type: 'string', jsonPath: `.${regarding}.fieldPath`, priority: 1, description: 'The part of the object the event is about' },
    { name: 'Source', type: 'string', jsonPath: `.${component}`, priority: 1, description: 'The reporting component', value: (event) => (event[component] as string | undefined) ?? (event.source as { component?: string } | undefined)?.component },
    { name: 'Message', type: 'string', jsonPath: `.${message}`, description: 'Human-readable description' },
    { name: 'First Seen', type: 'date', jsonPath: '.firstTimestamp', priority: 1, description: 'Time since the event first happened', value: (event) => (event.firstTimestamp as string | undefined) ?? (event.deprecatedFirstTimestamp as string | undefined) ?? (event.eventTime as string | undefined) },
    { name: 'Count', type: 'integer', jsonPath: `.${count}`, priority: 1, description: 'How often it happened', value: (event) => (event.series as { count?: number } | undefined)?.count ?? (event[count] as number | undefined) ?? 1 },
    { name: 'Name', type: 'string', jsonPath: '.metadata.name', priority: 1, description: 'Name of the event object' },
  ];
}

/**
 * An Event lives in the namespace of the object it is about (Kubernetes refuses a mismatch too): whoever may
 * read a namespace's Events may read that namespace, so an event naming an object of another namespace would
 * let one tenant plant text where another reads it, or read about another tenant's objects.
 */
function sameNamespaceErrors(event: KubeObject, field: 'involvedObject' | 'regarding'): FieldError[] {
  const namespace = (event[field] as { namespace?: string } | undefined)?.namespace;
  if (!namespace || namespace === event.metadata.namespace) return [];
  return [{ field: `${field}.namespace`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(namespace)}: does not match event.namespace` }];
}

const referenceFields = (prefix: string) => ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath'].map((field) => `${prefix}.${field}`);

export function coreEventResource(): ResourceInfo {
  return builtinResource({
    group: '',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    namespaced: true,
    shortNames: ['ev'],
    description: 'Event is a report of an event somewhere in the cluster, e.g. what a controller did to an object. Events expire after an hour.',
    required: ['involvedObject'],
    properties: {
      involvedObject: { ...objectReference, description: 'The object that this event is about.' },
      reason: str('Short, machine understandable string that gives the reason for the transition into the object\'s current status (CamelCase).'),
      message: str('A human-readable description of the status of this operation.'),
      source: source,
      firstTimestamp: time('The time at which the event was first recorded.'),
      lastTimestamp: time('The time at which the most recent occurrence of this event was recorded.'),
      count: int('The number of times this event has occurred.'),
      type: str('Type of this event (Normal, Warning).'),
      eventTime: microTime('Time when this Event was first observed.'),
      series: series,
      action: str('What action was taken/failed regarding to the Regarding object.'),
      related: { ...objectReference, description: 'Optional secondary object for more complex actions.' },
      reportingComponent: str('Name of the controller that emitted this Event, e.g. photoncloud.io/vpc-controller.'),
      reportingInstance: str('ID of the controller instance, e.g. controller-manager-1.'),
    },
    tableColumns: eventColumns('involvedObject', 'message', 'reportingComponent', 'count'),
    selectableFields: [...referenceFields('involvedObject'), 'reason', 'reportingComponent', 'type'],
    strategy: { validate: (event) => sameNamespaceErrors(event, 'involvedObject') },
  });
}

/** Copies defined fields from one object to another under new names. */
function rename(from: KubeObject, mapping: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [source, target] of Object.entries(mapping)) if (from[source] !== undefined) out[target] = from[source];
  return out;
}

const EVENTS_FROM_CORE: Record<string, string> = {
  eventTime: 'eventTime', series: 'series', reportingComponent: 'reportingController', reportingInstance: 'reportingInstance',
  action: 'action', reason: 'reason', involvedObject: 'regarding', related: 'related', message: 'note', type: 'type',
  source: 'deprecatedSource', firstTimestamp: 'deprecatedFirstTimestamp', lastTimestamp: 'deprecatedLastTimestamp', count: 'deprecatedCount',
};
const CORE_FROM_EVENTS = Object.fromEntries(Object.entries(EVENTS_FROM_CORE).map(([core, events]) => [events, core]));

export function eventsV1Resource(): ResourceInfo {
  return builtinResource({
    group: 'events.k8s.io',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    namespaced: true,
    shortNames: ['ev'],
    description: 'Event is a report of an event somewhere in the cluster (events.k8s.io form of the core v1 Event; both read the same events).',
    properties: {
      eventTime: microTime('Time when this Event was first observed.'),
      series: series,
      reportingController: str('Name of the controller that emitted this Event, e.g. photoncloud.io/vpc-controller.'),
      reportingInstance: str('ID of the controller instance.'),
      action: str('What action was taken/failed regarding to the regarding object.'),
      reason: str('Why the action was taken (CamelCase).'),
      regarding: { ...objectReference, description: 'The object this Event is about.' },
      related: { ...objectReference, description: 'Optional secondary object for more complex actions.' },
      note: str('A human-readable description of the status of this operation.'),
      type: str('Type of this event (Normal, Warning).'),
      deprecatedSource: source,
      deprecatedFirstTimestamp: time('Deprecated field assuring backward compatibility with core.v1 Event type.'),
      deprecatedLastTimestamp: time('Deprecated field assuring backward compatibility with core.v1 Event type.'),
      deprecatedCount: int('Deprecated field assuring backward compatibility with core.v1 Event type.'),
    },
    required: ['regarding'],
    tableColumns: eventColumns('regarding', 'note', 'reportingController', 'deprecatedCount'),
    selectableFields: [...referenceFields('regarding'), 'reason', 'reportingController', 'type'],
    strategy: { validate: (event) => sameNamespaceErrors(event, 'regarding') },
    storedAs: {
      group: '',
      plural: 'events',
      apiVersion: 'v1',
      conversion: {
        toStorage: (event) => ({ apiVersion: 'v1', kind: 'Event', metadata: event.metadata, ...rename(event, CORE_FROM_EVENTS) }) as KubeObject,
        fromStorage: (event) => ({ apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: event.metadata, ...rename(event, EVENTS_FROM_CORE) }) as KubeObject,
      },
    },
  });
}
