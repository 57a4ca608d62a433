// Admission checks that need other objects (a Subnet's CIDR against its VPC and siblings, a Port's static
// address against the addresses already in use). They read the watch cache — a view that may lag by
// milliseconds, so they catch what is knowable at admission; controllers still check everything and report
// what slipped through (or became true later) as Ready=False with a reason.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { FieldError } from '../errors.ts';
import type { ResourceInfo } from '../registry/resource.ts';

export interface AdmissionLookup {
  /** Objects of a kind (by group and plural) in a namespace (or all namespaces), as stored. */
  list(group: string, plural: string, namespace?: string): KubeObject[];
  get(group: string, plural: string, namespace: string | undefined, name: string): KubeObject | undefined;
}

export type CrossObjectCheck = (object: KubeObject, old: KubeObject | undefined, lookup: AdmissionLookup) => FieldError[];

export class CrossObjectAdmission {
  private readonly checks = new Map<string, CrossObjectCheck[]>();

  constructor(private readonly lookup: AdmissionLookup) {}

  register(group: string, kind: string, check: CrossObjectCheck): this {
    const key = `${group}/${kind}`;
    this.checks.set(key, [...(this.checks.get(key) ?? []), check]);
    return this;
  }

  check(resource: ResourceInfo, object: KubeObject, old: KubeObject | undefined): FieldError[] {
    const checks = this.checks.get(`${resource.group}/${resource.kind}`) ?? [];
    return checks.flatMap((check) => check(object, old, this.lookup));
  }
}
