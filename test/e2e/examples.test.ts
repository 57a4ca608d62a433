// The first thing a new user runs: `kubectl apply -f crds/examples/`, one command, and everything it creates
// that a controller manages converges to Ready=True (etcd, the API server, a real OVN central and the
// network controllers, as the controller manager runs them: test/network/harness.ts). The kinds checked are
// read from the example files, so a new example of a live kind is checked too. And a manifest written in
// reverse dependency order (a Port before its Subnet and SecurityGroup, a Subnet before its Vpc) must
// converge as well: a missing reference is a condition that settles when the object appears, not a refusal.
// Deleting a Vpc that still has a Subnet shows, in `kubectl get -o wide`, the Ready reason and since when.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { kubectlOk as ok } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';
import { startNetworkEnv, type NetworkEnv } from '../network/harness.ts';

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../crds/examples');
const NETWORK = 'network.photoncloud.io/v1alpha1';
/** The kinds the controller manager reconciles (its network controllers), by their kubectl resource names. */
const LIVE_KINDS: Record<string, string> = { Vpc: 'vpcs', Subnet: 'subnets', Port: 'ports', SecurityGroup: 'securitygroups' };

interface Live {
  kind: string;
  metadata: { name: string; namespace: string; generation: number };
  status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

describe('examples and out-of-order manifests converge', () => {
  let env: NetworkEnv;
  const kubectl = (args: string[], stdin?: string) => env.api.kubectl(args, { stdin });

  beforeAll(async () => {
    env = await startNetworkEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  /** Polls until every named object is Ready=True for its current generation; a timeout says what is not. */
  async function waitAllReady(namespace: string, expected: Array<{ kind: string; name: string }>, timeoutMs = 60_000): Promise<void> {
    const resources = [...new Set(expected.map((object) => LIVE_KINDS[object.kind]!))].join(',');
    await waitFor(`${expected.length} objects in ${namespace} Ready`, async () => {
      const listed = JSON.parse(ok(await kubectl(['get', resources, '-n', namespace, '-o', 'json']))).items as Live[];
      const notReady: string[] = [];
      for (const want of expected) {
        const live = listed.find((object) => object.kind === want.kind && object.metadata.name === want.name);
        const ready = live?.status?.conditions?.find((condition) => condition.type === 'Ready');
        if (!live) notReady.push(`${want.kind}/${want.name}: missing`);
        else if (ready?.status !== 'True' || live.status?.observedGeneration !== live.metadata.generation) {
          notReady.push(`${want.kind}/${want.name}: Ready=${ready?.status ?? '-'} ${ready?.reason ?? ''} ${ready?.message ?? ''} (observedGeneration ${live.status?.observedGeneration ?? '-'} of ${live.metadata.generation})`);
        }
      }
      if (notReady.length > 0) throw new Error(`not Ready: ${notReady.join('; ')}`);
      return true;
    }, { timeoutMs, intervalMs: 250 });
  }

  it('kubectl apply -f crds/examples/ succeeds in one command and every live object becomes Ready', async () => {
    const files = readdirSync(EXAMPLES).filter((file) => file.endsWith('.yaml')).sort();
    const objects = files.map((file) => YAML.parse(readFileSync(path.join(EXAMPLES, file), 'utf8')) as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } });
    const applied = await kubectl(['apply', '-f', EXAMPLES]);
    expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });
    for (const object of objects) expect(applied.stdout).toMatch(new RegExp(`^\\S+/${object.metadata.name} created$`, 'm'));

    const live = objects.filter((object) => object.apiVersion === NETWORK && LIVE_KINDS[object.kind]);
    expect(live.map((object) => object.kind).sort()).toEqual(expect.arrayContaining(['Port', 'SecurityGroup', 'Subnet', 'Vpc']));
    const namespaces = [...new Set(live.map((object) => object.metadata.namespace!))];
    for (const namespace of namespaces) {
      await waitAllReady(namespace, live.filter((object) => object.metadata.namespace === namespace).map((object) => ({ kind: object.kind, name: object.metadata.name })));
    }
    // What the user sees: every live row READY True (the Ready column), e.g. the Port at its fixed address.
    const ports = ok(await kubectl(['get', 'ports', '-n', 'acme-web']));
    expect(ports).toMatch(/^db-primary\s+web\s+10\.0\.0\.10\s+\S+\s+.*True\s+\S+$/m);
    // Applying the same directory again succeeds and leaves the live objects alone. (Objects whose lists hold
    // defaulted fields, a LoadBalancer listener's protocol or a VM disk's bus, print "configured": client-side
    // apply resends such a list whole as a merge patch, a no-op, exactly as with CRDs in Kubernetes.)
    const again = ok(await kubectl(['apply', '-f', EXAMPLES]));
    for (const object of live) expect(again).toContain(`${object.kind.toLowerCase()}.network.photoncloud.io/${object.metadata.name} unchanged`);
    expect(again).not.toMatch(/ created$/m);
  });

  it('a manifest in reverse dependency order (Port, Subnet, Vpc, SecurityGroup last) converges', async () => {
    const ns = 'reverse-order';
    ok(await kubectl(['create', 'namespace', ns]));
    const manifest = [
      { apiVersion: NETWORK, kind: 'Port', metadata: { name: 'app-1', namespace: ns }, spec: { subnetRef: 'apps', securityGroupRefs: ['apps'] } },
      { apiVersion: NETWORK, kind: 'Port', metadata: { name: 'app-2', namespace: ns }, spec: { subnetRef: 'apps', ipAddress: '10.20.1.20', securityGroupRefs: ['apps'] } },
      { apiVersion: NETWORK, kind: 'Subnet', metadata: { name: 'apps', namespace: ns }, spec: { vpcRef: 'core', cidr: '10.20.1.0/24' } },
      { apiVersion: NETWORK, kind: 'Vpc', metadata: { name: 'core', namespace: ns }, spec: { cidrBlocks: ['10.20.0.0/16'] } },
      { apiVersion: NETWORK, kind: 'SecurityGroup', metadata: { name: 'apps', namespace: ns }, spec: { ingress: [{ protocol: 'TCP', ports: '8080', from: { securityGroupRef: 'apps' } }] } },
    ];
    const applied = await kubectl(['apply', '-f', '-'], manifest.map((object) => YAML.stringify(object)).join('---\n'));
    expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });
    await waitAllReady(ns, manifest.map((object) => ({ kind: object.kind, name: object.metadata.name })));
    const addresses = JSON.parse(ok(await kubectl(['get', 'ports', '-n', ns, '-o', 'json']))).items.map((port: { metadata: { name: string }; status: { ipAddress: string } }) => [port.metadata.name, port.status.ipAddress]);
    expect(addresses).toEqual([['app-1', expect.stringMatching(/^10\.20\.1\.\d+$/)], ['app-2', '10.20.1.20']]);
    expect(ok(await kubectl(['get', 'securitygroup', 'apps', '-n', ns, '-o', 'jsonpath={.status.portCount}']))).toBe('2');

    // Deleting the Vpc while its Subnet exists: `get -o wide` shows why it stays and since when.
    ok(await kubectl(['delete', 'vpc', 'core', '-n', ns, '--wait=false']));
    const wide = await waitFor('the deleting Vpc in get -o wide', async () => {
      const table = ok(await kubectl(['get', 'vpc', 'core', '-n', ns, '-o', 'wide']));
      return /^core\s+10\.20\.0\.0\/16\s+apps\s+SubnetsRemaining\s+\d+s\s+False\s+\S+$/m.test(table) ? table : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(wide.split('\n')[0]).toMatch(/^NAME\s+CIDRS\s+SUBNETS\s+REASON\s+DELETING\s+READY\s+AGE$/);
    // Once the Ports and the Subnet are gone, so is the Vpc.
    ok(await kubectl(['delete', 'ports', '--all', '-n', ns]));
    ok(await kubectl(['delete', 'subnet', 'apps', '-n', ns]));
    ok(await kubectl(['wait', '--for=delete', 'vpc/core', '-n', ns, '--timeout=30s']));
  });
});
