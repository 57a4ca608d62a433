import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { ApiError } from '../errors.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import { AdmissionChain, type AdmissionLookup } from './chain.ts';
import { standardAdmissionPlugins } from './plugins.ts';
import type { RbacAuthorizer } from '../authz/rbac/authorizer.ts';
import type { QuotaLedger } from '../quota/ledger.ts';

// These tests admit no RBAC kinds and no Projects, and their namespaces have no ResourceQuota, so the RBAC and
// quota plugins never consult the authorizer or the ledger.
const NO_RBAC = { authorizer: {} as RbacAuthorizer, quota: {} as QuotaLedger };

const GROUP = 'network.photoncloud.io';
const object = (kind: string, name: string, spec: Record<string, unknown>, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: `${GROUP}/v1alpha1`,
  kind,
  ...extra,
  metadata: { name, namespace: 'ns', ...extra.metadata },
  spec,
});
const plural = (kind: string) => `${kind.toLowerCase()}s`;

function lookupOver(objects: KubeObject[]): AdmissionLookup {
  const matches = (item: KubeObject, pluralName: string) => plural(item.kind!) === pluralName;
  const cached: AdmissionLookup['cached'] = (resource, namespace, name) => objects.find((item) => matches(item, resource.plural) && item.metadata.namespace === namespace && item.metadata.name === name);
  return {
    get: async (resource, namespace, name) => cached(resource, namespace, name),
    cached,
    list: async (resource, namespace) => objects.filter((item) => matches(item, resource.plural) && (!namespace || item.metadata.namespace === namespace)),
  };
}

/** The API server's chain over `objects`: field errors as `field: message`, other refusals thrown. */
function admission(objects: KubeObject[]): (candidate: KubeObject, old?: KubeObject) => Promise<string[]> {
  const namespace: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } };
  const chain = new AdmissionChain(standardAdmissionPlugins(NO_RBAC), lookupOver([namespace, ...objects]));
  return async (candidate, old) => {
    const resource = { group: GROUP, kind: candidate.kind, plural: plural(candidate.kind!), namespaced: true } as ResourceInfo;
    try {
      await chain.admit({ operation: old ? 'UPDATE' : 'CREATE', resource, object: candidate, old, dryRun: false });
      return [];
    } catch (error) {
      if (error instanceof ApiError && error.code === 422) return (error.details?.causes ?? []).map((cause) => `${cause.field}: ${cause.message}`);
      throw error;
    }
  };
}

describe('network admission', () => {
  const world = [
    object('Vpc', 'main', { cidrBlocks: ['10.0.0.0/16'] }),
    object('Vpc', 'going', { cidrBlocks: ['10.1.0.0/16'] }, { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['test.photoncloud.io/hold'] } }),
    object('Subnet', 'web', { vpcRef: 'main', cidr: '10.0.1.0/24', excludeIPs: ['10.0.1.2..10.0.1.9'] }),
    object('Subnet', 'closing', { vpcRef: 'main', cidr: '10.0.9.0/24' }, { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['test.photoncloud.io/hold'] } }),
    object('SecurityGroup', 'ssh', {}),
    object('Port', 'taken', { subnetRef: 'web' }, { status: { ipAddress: '10.0.1.20' } }),
  ];
  const check = admission(world);

  it('refuses a Subnet outside its VPC, overlapping a sibling, with host bits, or with a gateway or exclusion outside it', async () => {
    expect(await check(object('Subnet', 'db', { vpcRef: 'main', cidr: '10.0.2.0/24' }))).toEqual([]);
    expect(await check(object('Subnet', 'far', { vpcRef: 'main', cidr: '192.168.0.0/24' }))).toEqual([
      `spec.cidr: Invalid value: "192.168.0.0/24": must be inside one of Vpc main's cidrBlocks [10.0.0.0/16]`,
    ]);
    expect(await check(object('Subnet', 'overlap', { vpcRef: 'main', cidr: '10.0.1.128/25' }))).toEqual([`spec.cidr: Invalid value: "10.0.1.128/25": overlaps Subnet web (10.0.1.0/24) in Vpc main`]);
    expect(await check(object('Subnet', 'hosty', { vpcRef: 'main', cidr: '10.0.5.7/24' }))).toEqual(['spec.cidr: Invalid value: "10.0.5.7/24": has host bits set; the network is 10.0.5.0/24']);
    expect(await check(object('Subnet', 'gw', { vpcRef: 'main', cidr: '10.0.3.0/24', gateway: '10.0.4.1', excludeIPs: ['10.0.5.1'] }))).toEqual([
      'spec.gateway: Invalid value: "10.0.4.1": must be a usable address inside spec.cidr 10.0.3.0/24',
      'spec.excludeIPs[0]: Invalid value: "10.0.5.1": must be inside spec.cidr 10.0.3.0/24',
    ]);
    // A Subnet being deleted no longer holds its range.
    expect(await check(object('Subnet', 'reuse', { vpcRef: 'main', cidr: '10.0.9.0/24' }))).toEqual([]);
    // An unknown VPC is not knowable yet: the controller reports it.
    expect(await check(object('Subnet', 'later', { vpcRef: 'not-yet', cidr: '172.16.0.0/24' }))).toEqual([]);
    // Updating a subnet without touching cidr/vpcRef does not re-check overlap against itself.
    expect(await check(world[2], world[2])).toEqual([]);
  });

  it('refuses host bits in Vpc blocks, static route destinations and security group rules, but not ones already stored', async () => {
    expect(await check(object('Vpc', 'ok', { cidrBlocks: ['10.2.0.0/16'], staticRoutes: [{ destination: '0.0.0.0/0', nextHop: '10.2.0.9' }] }))).toEqual([]);
    const hosty = object('Vpc', 'hosty', { cidrBlocks: ['10.2.0.0/16', '10.3.0.1/16'], staticRoutes: [{ destination: '192.168.7.1/24', nextHop: '10.2.0.9' }] });
    expect(await check(hosty)).toEqual([
      'spec.cidrBlocks[1]: Invalid value: "10.3.0.1/16": has host bits set; the network is 10.3.0.0/16',
      'spec.staticRoutes[0].destination: Invalid value: "192.168.7.1/24": has host bits set; the network is 192.168.7.0/24',
    ]);
    // Stored before the rule existed: an update that keeps those values (and adds a good block) is admitted;
    // one that adds a new bad value is refused for that value alone.
    const kept = object('Vpc', 'hosty', { ...(hosty.spec as object), cidrBlocks: ['10.2.0.0/16', '10.3.0.1/16', '10.4.0.0/16'] });
    expect(await check(kept, hosty)).toEqual([]);
    const added = object('Vpc', 'hosty', { ...(hosty.spec as object), cidrBlocks: ['10.3.0.1/16', '10.5.0.1/16'] });
    expect(await check(added, hosty)).toEqual(['spec.cidrBlocks[1]: Invalid value: "10.5.0.1/16": has host bits set; the network is 10.5.0.0/16']);
    expect(await check(object('SecurityGroup', 'rules', {
      ingress: [{ from: { cidr: '0.0.0.0/0' } }, { from: { securityGroupRef: 'ssh' } }, { from: { cidr: '10.0.0.1/8' } }],
      egress: [{ to: { cidr: '172.16.3.3/32' } }, { to: { cidr: '172.16.3.3/12' } }],
    }))).toEqual([
      'spec.ingress[2].from.cidr: Invalid value: "10.0.0.1/8": has host bits set; the network is 10.0.0.0/8',
      'spec.egress[1].to.cidr: Invalid value: "172.16.3.3/12": has host bits set; the network is 172.16.0.0/12',
    ]);
  });

  it('refuses a Port whose static address is outside, reserved, excluded or taken', async () => {
    expect(await check(object('Port', 'ok', { subnetRef: 'web', ipAddress: '10.0.1.30', securityGroupRefs: ['ssh'] }))).toEqual([]);
    expect(await check(object('Port', 'out', { subnetRef: 'web', ipAddress: '10.0.2.5' }))).toEqual([`spec.ipAddress: Invalid value: "10.0.2.5": must be inside Subnet web's cidr 10.0.1.0/24`]);
    expect(await check(object('Port', 'gw', { subnetRef: 'web', ipAddress: '10.0.1.1' }))).toEqual([`spec.ipAddress: Invalid value: "10.0.1.1": is Subnet web's gateway`]);
    expect(await check(object('Port', 'bc', { subnetRef: 'web', ipAddress: '10.0.1.255' }))).toEqual(['spec.ipAddress: Invalid value: "10.0.1.255": is the network or broadcast address']);
    expect(await check(object('Port', 'ex', { subnetRef: 'web', ipAddress: '10.0.1.5' }))).toEqual(['spec.ipAddress: Invalid value: "10.0.1.5": is excluded from allocation by Subnet web (excludeIPs)']);
    expect(await check(object('Port', 'dup', { subnetRef: 'web', ipAddress: '10.0.1.20' }))).toEqual(['spec.ipAddress: Duplicate value: "10.0.1.20": already used by Port taken']);
    // The holder itself, updated, keeps its address.
    const holder = object('Port', 'static', { subnetRef: 'web', ipAddress: '10.0.1.40' });
    expect(await admission([...world, holder])(object('Port', 'static', { subnetRef: 'web', ipAddress: '10.0.1.40', securityGroupRefs: ['ssh'] }), holder)).toEqual([]);
  });

  it('admits references to objects that do not exist yet: order must not matter', async () => {
    expect(await check(object('Port', 'nosg', { subnetRef: 'web', securityGroupRefs: ['ssh', 'web-sg'] }))).toEqual([]);
    expect(await check(object('Port', 'nosubnet', { subnetRef: 'later', ipAddress: '10.7.7.7', securityGroupRefs: ['later'] }))).toEqual([]);
  });

  it('refuses new children of a parent being deleted with 403, but not updates of existing ones', async () => {
    const refusal = async (candidate: KubeObject) => {
      try {
        await check(candidate);
      } catch (error) {
        return error as ApiError;
      }
      throw new Error(`${candidate.kind} ${candidate.metadata.name} was admitted`);
    };
    const subnet = await refusal(object('Subnet', 'x', { vpcRef: 'going', cidr: '10.1.1.0/24' }));
    expect(subnet.toStatus()).toMatchObject({
      code: 403,
      reason: 'Forbidden',
      message: 'unable to create Subnet "x": Vpc "going" is being deleted',
      details: { name: 'x', group: GROUP, kind: 'subnets', causes: [{ reason: 'ParentTerminating', field: 'spec.vpcRef', message: 'Vpc "going" is being deleted' }] },
    });
    const port = await refusal(object('Port', 'p', { subnetRef: 'closing' }));
    expect(port.toStatus()).toMatchObject({ code: 403, message: 'unable to create Port "p": Subnet "closing" is being deleted', details: { kind: 'ports' } });
    const existing = object('Port', 'bound', { subnetRef: 'closing' });
    expect(await check(object('Port', 'bound', { subnetRef: 'closing', securityGroupRefs: ['ssh'] }), existing)).toEqual([]);
  });
});
