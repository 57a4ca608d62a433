// Pruning, the ways users reach for it, with the real kubectl and kpt against the server: an object removed
// from the manifest set must be deleted, everything else kept (unrelated objects of the same kinds in the
// same namespace included).
// - `kubectl apply --prune -l` without an applyset uses kubectl's built-in allowlist, which names core kinds
//   this server does not serve (Endpoints, Pods, …): it fails, and works with `--prune-allowlist`;
// - ApplySets (`KUBECTL_APPLYSET=true kubectl apply --prune --applyset=…`), client-side and server-side, with a
//   Secret and a ConfigMap parent, adopting an object first applied without one (kubectl labels it with a
//   strategic merge patch) and re-applying a changed ConfigMap;
// - kpt (`kpt live init`, `apply`, `status`, `destroy`): kpt installs its ResourceGroup CRD itself, keeps the
//   inventory in a ResourceGroup, and judges status with kstatus, so a Vpc is InProgress while its Ready
//   condition is False and Current once Ready for its generation (the test writes the status itself: no
//   network controllers run here).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { run } from '../../agents/ovn-local/commands.ts';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';

const NETWORK = 'network.photoncloud.io/v1alpha1';
const vpc = (name: string, namespace: string | undefined, cidr: string, labels?: Record<string, string>) =>
  ({ apiVersion: NETWORK, kind: 'Vpc', metadata: { name, ...(namespace ? { namespace } : {}), ...(labels ? { labels } : {}) }, spec: { cidrBlocks: [cidr] } });
const securityGroup = (name: string, namespace?: string) =>
  ({ apiVersion: NETWORK, kind: 'SecurityGroup', metadata: { name, ...(namespace ? { namespace } : {}) }, spec: { ingress: [{ protocol: 'TCP', ports: '443', from: { cidr: '0.0.0.0/0' } }] } });
const configMap = (name: string, data: Record<string, string>, namespace?: string, labels?: Record<string, string>) =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(namespace ? { namespace } : {}), ...(labels ? { labels } : {}) }, data });

describe('pruning with kubectl and kpt', () => {
  let env: TestApiServer;
  let work: string;
  const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });
  const toolEnv = () => ({ ...process.env, KUBECONFIG: env.kubeconfig, HOME: path.dirname(env.kubeconfig) });
  const applyset = (args: string[]) => run('kubectl', args, { env: { ...toolEnv(), KUBECTL_APPLYSET: 'true' }, timeoutMs: 60_000 });
  const kpt = (args: string[]) => run('kpt', args, { env: toolEnv(), timeoutMs: 120_000 });
  const okTool = (result: { code: number; stdout: string; stderr: string }) => {
    if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}${result.stdout}`);
    return result.stdout;
  };

  /** A fresh directory holding one file per object (file name: `<kind>-<name>.yaml`). */
  async function manifestDir(name: string, objects: Array<{ kind: string; metadata: { name: string } }>): Promise<string> {
    const dir = path.join(work, name);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    for (const object of objects) await fs.writeFile(path.join(dir, `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`), YAML.stringify(object));
    return dir;
  }
  const names = async (resource: string, namespace: string) => ok(await kubectl(['get', resource, '-n', namespace, '-o', 'name'])).trim().split('\n').filter(Boolean).sort();

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-prune-'));
  });
  afterAll(async () => {
    await env?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  it('--prune -l needs --prune-allowlist: kubectl\'s default allowlist names core kinds this server does not serve', async () => {
    const ns = 'prune-label';
    ok(await kubectl(['create', 'namespace', ns]));
    ok(await kubectl(['apply', '-n', ns, '-f', '-'], YAML.stringify(vpc('unrelated', ns, '10.9.0.0/16', { app: 'other' }))));
    const web = { app: 'web' };
    const first = await manifestDir('label-1', [vpc('a', undefined, '10.0.0.0/16', web), vpc('b', undefined, '10.1.0.0/16', web), configMap('settings', { mtu: '1450' }, undefined, web)]);
    const defaults = await kubectl(['apply', '--prune', '-l', 'app=web', '-n', ns, '-f', first]);
    expect(defaults.code).not.toBe(0);
    expect(defaults.stderr).toContain('no matches for kind "Endpoints" in version "v1"');

    const allowlist = ['--prune-allowlist=network.photoncloud.io/v1alpha1/Vpc', '--prune-allowlist=core/v1/ConfigMap'];
    ok(await kubectl(['apply', '--prune', '-l', 'app=web', '-n', ns, ...allowlist, '-f', first]));
    const second = await manifestDir('label-2', [vpc('a', undefined, '10.0.0.0/16', web), configMap('settings', { mtu: '9000' }, undefined, web)]);
    const pruned = ok(await kubectl(['apply', '--prune', '-l', 'app=web', '-n', ns, ...allowlist, '-f', second]));
    expect(pruned).toContain('vpc.network.photoncloud.io/b pruned');
    expect(pruned).toContain('configmap/settings configured');
    expect(await names('vpcs', ns)).toEqual(['vpc.network.photoncloud.io/a', 'vpc.network.photoncloud.io/unrelated']);
  });

  it.each([
    ['client-side, Secret parent', [] as string[], 'web', 'secret'],
    ['server-side, ConfigMap parent', ['--server-side'], 'configmaps/web', 'configmap'],
  ])('ApplySet (%s): prunes what left the set, adopts, re-applies changes, leaves the rest', async (_what, mode, parentFlag, parentKind) => {
    const ns = `applyset-${parentKind}`;
    ok(await kubectl(['create', 'namespace', ns]));
    // Applied before the applyset existed (no applyset label), then made part of it; and one outside it.
    ok(await kubectl(['apply', '-n', ns, '-f', '-'], YAML.stringify(configMap('adopted', { k: 'v' }))));
    ok(await kubectl(['apply', '-n', ns, '-f', '-'], YAML.stringify(vpc('outside', ns, '10.9.0.0/16'))));

    const first = await manifestDir(`set-${parentKind}-1`, [vpc('a', undefined, '10.0.0.0/16'), vpc('b', undefined, '10.1.0.0/16'), securityGroup('web'), configMap('settings', { mtu: '1450' }), configMap('adopted', { k: 'v' })]);
    const applied = okTool(await applyset(['apply', ...mode, '--prune', `--applyset=${parentFlag}`, '-n', ns, '-f', first]));
    expect(applied).toContain('vpc.network.photoncloud.io/b');
    const parent = JSON.parse(ok(await kubectl(['get', parentKind, 'web', '-n', ns, '-o', 'json'])));
    const id = parent.metadata.labels['applyset.kubernetes.io/id'];
    expect(id).toMatch(/^applyset-[A-Za-z0-9_-]+-v1$/);
    expect(parent.metadata.annotations['applyset.kubernetes.io/contains-group-kinds']).toBe('ConfigMap,SecurityGroup.network.photoncloud.io,Vpc.network.photoncloud.io');
    expect(parent.metadata.annotations['applyset.kubernetes.io/tooling']).toMatch(/^kubectl\/v1\.\d+/);
    for (const member of ['vpc/a', 'vpc/b', 'securitygroup/web', 'configmap/settings', 'configmap/adopted']) {
      expect([member, ok(await kubectl(['get', member, '-n', ns, '-o', 'jsonpath={.metadata.labels.applyset\\.kubernetes\\.io/part-of}']))]).toEqual([member, id]);
    }
    expect(ok(await kubectl(['get', 'vpc/outside', '-n', ns, '-o', 'jsonpath={.metadata.labels}']))).toBe('');

    // b and the adopted ConfigMap leave the set, settings changes.
    const second = await manifestDir(`set-${parentKind}-2`, [vpc('a', undefined, '10.0.0.0/16'), securityGroup('web'), configMap('settings', { mtu: '9000' })]);
    const pruned = okTool(await applyset(['apply', ...mode, '--prune', `--applyset=${parentFlag}`, '-n', ns, '-f', second]));
    expect(pruned).toContain('vpc.network.photoncloud.io/b pruned');
    expect(pruned).toContain('configmap/adopted pruned');
    expect(await names('vpcs', ns)).toEqual(['vpc.network.photoncloud.io/a', 'vpc.network.photoncloud.io/outside']);
    expect(await names('securitygroups', ns)).toEqual(['securitygroup.network.photoncloud.io/web']);
    expect(ok(await kubectl(['get', 'configmap', 'settings', '-n', ns, '-o', 'jsonpath={.data.mtu}']))).toBe('9000');
    // Unchanged re-apply prunes nothing.
    expect(okTool(await applyset(['apply', ...mode, '--prune', `--applyset=${parentFlag}`, '-n', ns, '-f', second]))).not.toContain('pruned');
  });

  it('kpt live: init, apply (installing its ResourceGroup CRD), status by kstatus, prune, destroy', async () => {
    const ns = 'kpt-live';
    ok(await kubectl(['create', 'namespace', ns]));
    ok(await kubectl(['apply', '-f', '-'], YAML.stringify(vpc('outside', ns, '10.9.0.0/16'))));
    const pkg = await manifestDir('kpt-pkg', [vpc('a', ns, '10.0.0.0/16'), vpc('b', ns, '10.1.0.0/16'), configMap('settings', { mtu: '1450' }, ns)]);
    okTool(await kpt(['live', 'init', pkg, '--namespace', ns]));
    const inventory = YAML.parse(await fs.readFile(path.join(pkg, 'resourcegroup.yaml'), 'utf8'));
    expect(inventory).toMatchObject({ apiVersion: 'kpt.dev/v1alpha1', kind: 'ResourceGroup', metadata: { namespace: ns } });

    const applied = okTool(await kpt(['live', 'apply', pkg, '--reconcile-timeout=60s']));
    expect(applied).toContain('apply result: 3 attempted, 3 successful, 0 skipped, 0 failed');
    expect(applied).toContain('reconcile result: 3 attempted, 3 successful');
    ok(await kubectl(['get', 'crd', 'resourcegroups.kpt.dev']));
    const group = JSON.parse(ok(await kubectl(['get', 'resourcegroups.kpt.dev', inventory.metadata.name, '-n', ns, '-o', 'json'])));
    expect(group.spec.resources.map((entry: { kind: string; name: string }) => `${entry.kind}/${entry.name}`).sort()).toEqual(['ConfigMap/settings', 'Vpc/a', 'Vpc/b']);

    // kstatus: Ready=False for the current generation is InProgress; Ready=True is Current; a spec change the
    // status has not caught up with is InProgress again.
    const status = (ready: boolean, generation = 1) => JSON.stringify({
      status: {
        observedGeneration: generation,
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'Programmed' : 'Programming', message: ready ? 'router programmed' : 'programming the router', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: generation }],
      },
    });
    const vpcStatus = async () => {
      const events = okTool(await kpt(['live', 'status', pkg, '--output', 'json'])).trim().split('\n').map((line) => JSON.parse(line));
      return events.find((event) => event.type === 'status' && event.kind === 'Vpc' && event.name === 'a' && event.namespace === ns);
    };
    ok(await kubectl(['patch', 'vpc', 'a', '-n', ns, '--subresource=status', '--type=merge', '-p', status(false)]));
    expect(await vpcStatus()).toMatchObject({ status: 'InProgress', message: 'programming the router' });
    expect(okTool(await kpt(['live', 'status', pkg]))).toMatch(new RegExp(`configmap/${ns}/settings is Current`));
    ok(await kubectl(['patch', 'vpc', 'a', '-n', ns, '--subresource=status', '--type=merge', '-p', status(true)]));
    expect(await vpcStatus()).toMatchObject({ status: 'Current', message: 'Resource is Ready' });
    ok(await kubectl(['patch', 'vpc', 'a', '-n', ns, '--type=merge', '-p', '{"spec":{"cidrBlocks":["10.0.0.0/8"]}}']));
    expect(await vpcStatus()).toMatchObject({ status: 'InProgress', message: 'Vpc generation is 2, but latest observed generation is 1' });
    // Back to the package's spec, and Ready for it (kpt live apply below waits for Current).
    ok(await kubectl(['patch', 'vpc', 'a', '-n', ns, '--type=merge', '-p', '{"spec":{"cidrBlocks":["10.0.0.0/16"]}}']));
    ok(await kubectl(['patch', 'vpc', 'a', '-n', ns, '--subresource=status', '--type=merge', '-p', status(true, 3)]));

    // b leaves the package: pruned; the ConfigMap changes (a strategic merge patch).
    await fs.rm(path.join(pkg, 'vpc-b.yaml'));
    await fs.writeFile(path.join(pkg, 'configmap-settings.yaml'), YAML.stringify(configMap('settings', { mtu: '9000' }, ns)));
    const pruned = okTool(await kpt(['live', 'apply', pkg, '--reconcile-timeout=60s']));
    expect(pruned).toContain('vpc.network.photoncloud.io/b prune successful');
    expect(pruned).toContain('prune result: 1 attempted, 1 successful');
    expect(await names('vpcs', ns)).toEqual(['vpc.network.photoncloud.io/a', 'vpc.network.photoncloud.io/outside']);
    expect(ok(await kubectl(['get', 'configmap', 'settings', '-n', ns, '-o', 'jsonpath={.data.mtu}']))).toBe('9000');

    const destroyed = okTool(await kpt(['live', 'destroy', pkg]));
    expect(destroyed).toContain('delete result: 2 attempted, 2 successful');
    expect(await names('vpcs', ns)).toEqual(['vpc.network.photoncloud.io/outside']);
    expect(await names('configmaps', ns)).toEqual([]);
    expect(await names('resourcegroups.kpt.dev', ns)).toEqual([]);
  });
});
