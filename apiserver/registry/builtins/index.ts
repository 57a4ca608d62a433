// Every built-in kind the server serves besides CustomResourceDefinitions.
import type { ResourceInfo } from '../resource.ts';
import { configMapResource, secretResource, serviceAccountResource } from './config.ts';
import { coreEventResource, eventsV1Resource } from './events.ts';
import { leaseResource } from './leases.ts';
import { namespaceResource } from './namespaces.ts';
import { reviewResources } from './reviews.ts';
import { rbacResources } from './rbac.ts';
import { resourceQuotaResource } from './resource-quota.ts';

export function builtinResources(): ResourceInfo[] {
  return [namespaceResource(), configMapResource(), secretResource(), serviceAccountResource(), coreEventResource(), eventsV1Resource(), leaseResource(), resourceQuotaResource(), ...reviewResources(), ...rbacResources()];
}
