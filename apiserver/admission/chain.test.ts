import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { ApiError, forbidden, type FieldError } from '../errors.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import { AdmissionChain, type AdmissionAttributes, type AdmissionLookup, type AdmissionPlugin } from './chain.ts';
import { standardAdmissionPlugins } from './plugins.ts';
import type { RbacAuthorizer } from '../authz/rbac/authorizer.ts';
import type { QuotaLedger } from '../quota/ledger.ts';

// These tests admit no RBAC kinds and no Projects, and their namespaces have no ResourceQuota, so the RBAC and
// quota plugins never consult the authorizer or the ledger.
const NO_RBAC = { authorizer: {} as RbacAuthorizer, quota: {} as QuotaLedger };

const GROUP = 'network.photoncloud.io';
const SUBNETS = { group: GROUP, version: 'v1alpha1', kind: 'Subnet', plural: 'subnets', namespaced: true } as ResourceInfo;
const NAMESPACES = { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false } as ResourceInfo;

const emptyLookup: AdmissionLookup = { get: async () => undefined, list: async () => [], cached: () => undefined };

function lookupOver(objects: Array<{ plural: string; object: KubeObject }>): AdmissionLookup {
  const cached: AdmissionLookup['cached'] = (resource, namespace, name) =>
    objects.find(({ plural, object }) => plural === resource.plural && object.metadata.namespace === namespace && object.metadata.name === name)?.object;
  return {
    get: async (resource, namespace, name) => cached(resource, namespace, name),
    cached,
    list: async (resource, namespace) => objects.filter(({ plural, object }) => plural === resource.plural && (!namespace || object.metadata.namespace === namespace)).map(({ object }) => object),
  };
}

const subnet = (name: string, spec: Record<string, unknown> = { vpcRef: 'main', cidr: '10.0.1.0/24' }, namespace = 'prod'): KubeObject => ({
  apiVersion: `${GROUP}/v1alpha1`,
  kind: 'Subnet',
  metadata: { name, namespace },
  spec,
});
const create = (object: KubeObject, resource = SUBNETS): AdmissionAttributes => ({ operation: 'CREATE', resource, object, dryRun: false });

/** A plugin that records that it ran and answers with `result` (field errors, or a refusal to throw). */
function recorder(name: string, ran: string[], result: FieldError[] | ApiError = [], extra: Partial<AdmissionPlugin> = {}): AdmissionPlugin {
  return {
    name,
    operations: ['CREATE', 'UPDATE'],
    ...extra,
    async admit() {
      ran.push(name);
      if (result instanceof ApiError) throw result;
      return result;
    },
  };
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('admitted');
}

describe('admission chain', () => {
  it('runs plugins in the order given and stops at the first refusal', async () => {
    const ran: string[] = [];
    const chain = new AdmissionChain([recorder('A', ran), recorder('B', ran, forbidden('no')), recorder('C', ran)], emptyLookup);
    expect(chain.order).toEqual(['A', 'B', 'C']);
    expect((await refusal(chain.admit(create(subnet('x'))))).code).toBe(403);
    expect(ran).toEqual(['A', 'B']);

    ran.length = 0;
    const fieldErrors = new AdmissionChain([recorder('A', ran, [{ field: 'spec.cidr', reason: 'FieldValueInvalid', message: 'Invalid value: "x": no' }]), recorder('B', ran)], emptyLookup);
    const invalid = await refusal(fieldErrors.admit(create(subnet('x'))));
    expect(invalid.toStatus()).toMatchObject({ code: 422, reason: 'Invalid', message: 'Subnet.network.photoncloud.io "x" is invalid: spec.cidr: Invalid value: "x": no', details: { kind: 'Subnet', causes: [{ field: 'spec.cidr' }] } });
    expect(ran).toEqual(['A']);
  });

  it('asks only the plugins that handle the operation, the kind, and (when they say so) subresources', async () => {
    const ran: string[] = [];
    const chain = new AdmissionChain([
      recorder('CreateOnly', ran, [], { operations: ['CREATE'] }),
      recorder('Vpcs', ran, [], { kinds: [{ group: GROUP, kind: 'Vpc' }] }),
      recorder('Subnets', ran, [], { kinds: [{ group: GROUP, kind: 'Subnet' }] }),
      recorder('Status', ran, [], { subresources: true }),
    ], emptyLookup);
    await chain.admit({ ...create(subnet('x')), operation: 'UPDATE', old: subnet('x') });
    expect(ran).toEqual(['Subnets', 'Status']);
    ran.length = 0;
    await chain.admit({ ...create(subnet('x')), operation: 'UPDATE', old: subnet('x'), subresource: 'status' });
    expect(ran).toEqual(['Status']);
    expect(() => new AdmissionChain([recorder('A', ran), recorder('A', ran)], emptyLookup)).toThrow('admission plugin A is in the chain twice');
  });

  it('is namespace lifecycle, then who may grant what, then parent lifecycle, then the per-kind checks', () => {
    expect(new AdmissionChain(standardAdmissionPlugins(NO_RBAC), emptyLookup).order).toEqual([
      'NamespaceLifecycle',
      'NodeRestriction',
      'RBACEscalation',
      'ProjectOrganization',
      'ParentLifecycle',
      'VpcValidation',
      'SubnetValidation',
      'SecurityGroupValidation',
      'PortValidation',
      'ZoneValidation',
      'LoadBalancerValidation',
      'StorageClassValidation',
      'VolumeValidation',
      'UserPassword',
      'ControllerFinalizers',
      'ResourceQuota',
    ]);
  });

  describe('the standard chain', () => {
    const terminating = { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['test.photoncloud.io/hold'] };
    const world = lookupOver([
      { plural: 'namespaces', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } } },
      { plural: 'namespaces', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'old', ...terminating } } },
      { plural: 'vpcs', object: { apiVersion: `${GROUP}/v1alpha1`, kind: 'Vpc', metadata: { name: 'main', namespace: 'prod' }, spec: { cidrBlocks: ['10.0.0.0/16'] } } },
      { plural: 'vpcs', object: { apiVersion: `${GROUP}/v1alpha1`, kind: 'Vpc', metadata: { name: 'going', namespace: 'prod', ...terminating }, spec: { cidrBlocks: ['10.0.0.0/16'] } } },
      { plural: 'vpcs', object: { apiVersion: `${GROUP}/v1alpha1`, kind: 'Vpc', metadata: { name: 'going', namespace: 'old', ...terminating }, spec: { cidrBlocks: ['10.0.0.0/16'] } } },
    ]);
    const chain = new AdmissionChain(standardAdmissionPlugins(NO_RBAC), world);

    it('refuses creates in a missing (404) or terminating (403) namespace before anything else', async () => {
      // Even a Subnet that every later plugin would refuse (terminating Vpc, host bits) gets the namespace's answer.
      const bad = { vpcRef: 'going', cidr: '10.0.1.1/24' };
      const missing = await refusal(chain.admit(create(subnet('x', bad, 'nowhere'))));
      expect(missing.toStatus()).toMatchObject({ code: 404, reason: 'NotFound', message: 'namespaces "nowhere" not found' });
      const closing = await refusal(chain.admit(create(subnet('x', bad, 'old'))));
      expect(closing.toStatus()).toMatchObject({
        code: 403,
        reason: 'Forbidden',
        message: 'unable to create new content in namespace old because it is being terminated',
        details: { name: 'old', kind: 'namespaces', causes: [{ reason: 'NamespaceTerminating', field: 'metadata.namespace' }] },
      });
      // Cluster-scoped objects have no namespace to check.
      await chain.admit(create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'new' } }, NAMESPACES));
    });

    it('refuses a child of a terminating parent (403) before checking its spec (422)', async () => {
      const parent = await refusal(chain.admit(create(subnet('x', { vpcRef: 'going', cidr: '10.0.1.1/24' }))));
      expect(parent.toStatus()).toMatchObject({ code: 403, message: 'unable to create Subnet "x": Vpc "going" is being deleted', details: { kind: 'subnets', group: GROUP } });
      const spec = await refusal(chain.admit(create(subnet('x', { vpcRef: 'main', cidr: '10.0.1.1/24' }))));
      expect(spec.code).toBe(422);
      await chain.admit(create(subnet('x', { vpcRef: 'main', cidr: '10.0.1.0/24' })));
    });

    it('leaves updates alone: only creates are refused by the lifecycles', async () => {
      const existing = subnet('x', { vpcRef: 'going', cidr: '10.0.1.0/24' }, 'old');
      await chain.admit({ operation: 'UPDATE', resource: SUBNETS, object: { ...existing, metadata: { ...existing.metadata, labels: { a: 'b' } } }, old: existing, dryRun: false });
    });
  });
});
