// The real kubectl against a PhotonCloud API server, used exactly as a user would. One suite, run once per
// storage backend (kubectl-etcd.test.ts, kubectl-embedded.test.ts). Every test works in its own namespace,
// so tests never depend on each other's order.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import YAML from 'yaml';
import { waitFor } from '../env/process.ts';
import { kubectlOk as expectOk, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';

const NETWORK = 'network.photoncloud.io/v1alpha1';

export function vpc(name: string, namespace: string, spec: Record<string, unknown> = { cidrBlocks: ['10.0.0.0/16'] }, labels?: Record<string, string>) {
  return { apiVersion: NETWORK, kind: 'Vpc', metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec };
}

export function subnet(name: string, namespace: string, vpcRef: string, cidr: string) {
  return { apiVersion: NETWORK, kind: 'Subnet', metadata: { name, namespace }, spec: { vpcRef, cidr } };
}

const manifest = (...objects: object[]) => objects.map((object) => YAML.stringify(object)).join('---\n');

export function describeKubectlE2E(storage: 'etcd' | 'embedded'): void {
  describe(`kubectl against PhotonCloud (${storage} storage)`, () => {
    let env: TestApiServer;
    const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });
    const namespace = async (name: string) => expectOk(await kubectl(['create', 'namespace', name]));

    beforeAll(async () => {
      env = await startTestApiServer({ storage });
    });
    afterAll(async () => {
      await env?.stop();
    });

    it('lists every PhotonCloud kind in api-resources and api-versions', async () => {
      const resources = expectOk(await kubectl(['api-resources', '-o', 'wide']));
      for (const [plural, group] of [
        ['vpcs', 'network'], ['subnets', 'network'], ['ports', 'network'], ['securitygroups', 'network'],
        ['virtualmachines', 'compute'], ['nodes', 'compute'], ['images', 'compute'], ['zones', 'dns'],
        ['loadbalancers', 'lb'], ['buckets', 'storage'], ['organizations', 'iam'], ['projects', 'iam'], ['organizationrolebindings', 'iam'],
      ]) {
        expect(resources).toMatch(new RegExp(`^${plural}\\s+\\S*\\s*${group}\\.photoncloud\\.io/v1alpha1\\s`, 'm'));
      }
      expect(resources).toMatch(/^namespaces\s+ns\s+v1\s+false\s+Namespace/m);
      const versions = expectOk(await kubectl(['api-versions']));
      for (const group of ['iam', 'network', 'compute', 'dns', 'lb', 'storage']) expect(versions).toContain(`${group}.photoncloud.io/v1alpha1`);
      const networkOnly = expectOk(await kubectl(['api-resources', '--api-group=network.photoncloud.io', '--no-headers']));
      expect(networkOnly.trim().split('\n')).toHaveLength(4);
    });

    it('applies (create, then change), keeps generation honest, and lists the category', async () => {
      await namespace('apply-ns');
      const first = expectOk(await kubectl(['apply', '-f', '-'], manifest(vpc('main', 'apply-ns', { cidrBlocks: ['10.0.0.0/16'], staticRoutes: [{ destination: '0.0.0.0/0', nextHop: '10.0.0.4' }] }), subnet('web', 'apply-ns', 'main', '10.0.1.0/24'))));
      expect(first).toContain('vpc.network.photoncloud.io/main created');
      expect(first).toContain('subnet.network.photoncloud.io/web created');
      const unchanged = expectOk(await kubectl(['apply', '-f', '-'], manifest(vpc('main', 'apply-ns', { cidrBlocks: ['10.0.0.0/16'], staticRoutes: [{ destination: '0.0.0.0/0', nextHop: '10.0.0.4' }] }))));
      expect(unchanged).toContain('vpc.network.photoncloud.io/main unchanged');
      // Change a field and drop another: client-side apply's three-way merge removes staticRoutes.
      const changed = expectOk(await kubectl(['apply', '-f', '-'], manifest(vpc('main', 'apply-ns', { cidrBlocks: ['10.0.0.0/16', '10.1.0.0/16'] }))));
      expect(changed).toContain('vpc.network.photoncloud.io/main configured');
      const live = JSON.parse(expectOk(await kubectl(['get', 'vpc', 'main', '-n', 'apply-ns', '-o', 'json'])));
      expect(live.spec).toEqual({ cidrBlocks: ['10.0.0.0/16', '10.1.0.0/16'] });
      expect(live.metadata.generation).toBe(2);
      expect(live.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(live.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain('10.1.0.0/16');
      const category = expectOk(await kubectl(['get', 'photon', '-n', 'apply-ns']));
      expect(category).toContain('vpc.network.photoncloud.io/main');
      expect(category).toContain('subnet.network.photoncloud.io/web');
    });

    it('applies server-side, creating when missing and updating with a field manager', async () => {
      await namespace('ssa-ns');
      const created = expectOk(await kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], manifest(vpc('edge', 'ssa-ns'))));
      expect(created).toContain('vpc.network.photoncloud.io/edge serverside-applied');
      expectOk(await kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], manifest(vpc('edge', 'ssa-ns', { cidrBlocks: ['172.16.0.0/16'] }, { team: 'net' }))));
      const live = JSON.parse(expectOk(await kubectl(['get', 'vpc', 'edge', '-n', 'ssa-ns', '-o', 'json'])));
      expect(live.spec.cidrBlocks).toEqual(['172.16.0.0/16']);
      expect(live.metadata.labels).toEqual({ team: 'net' });
      expect(live.metadata.generation).toBe(2);
    });

    it('diffs a changed manifest (exit 1) and an unchanged one (exit 0) without writing', async () => {
      await namespace('diff-ns');
      expectOk(await kubectl(['apply', '-f', '-'], manifest(vpc('main', 'diff-ns'))));
      const before = JSON.parse(expectOk(await kubectl(['get', 'vpc', 'main', '-n', 'diff-ns', '-o', 'json'])));
      const same = await kubectl(['diff', '-f', '-'], manifest(vpc('main', 'diff-ns')));
      expect(same).toMatchObject({ code: 0, stdout: '' });
      const different = await kubectl(['diff', '-f', '-'], manifest(vpc('main', 'diff-ns', { cidrBlocks: ['10.9.0.0/16'] })));
      expect(different.code).toBe(1);
      expect(different.stdout).toMatch(/^-\s+- 10\.0\.0\.0\/16$/m);
      expect(different.stdout).toMatch(/^\+\s+- 10\.9\.0\.0\/16$/m);
      const after = JSON.parse(expectOk(await kubectl(['get', 'vpc', 'main', '-n', 'diff-ns', '-o', 'json'])));
      expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    });

    it('gets with -A, -o yaml, -o wide, -L and --sort-by', async () => {
      await namespace('get-a');
      await namespace('get-b');
      expectOk(await kubectl(['apply', '-f', '-'], manifest(
        vpc('zeta', 'get-a', { cidrBlocks: ['10.20.0.0/16'] }, { tier: 'prod', suite: 'get' }),
        vpc('alpha', 'get-a', { cidrBlocks: ['10.30.0.0/16'] }, { tier: 'dev', suite: 'get' }),
        vpc('mid', 'get-b', { cidrBlocks: ['10.10.0.0/16'] }, { suite: 'get' }),
      )));
      const all = expectOk(await kubectl(['get', 'vpcs', '-A', '-l', 'suite=get']));
      expect(all.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+CIDRS\s+READY\s+AGE$/);
      // A list prints comma-separated (Kubernetes would print the JSON `["10.30.0.0/16"]`): see apiserver/table/table.ts.
      expect(all).toMatch(/^get-a\s+alpha\s+10\.30\.0\.0\/16\s/m);
      expect(all).toMatch(/^get-b\s+mid\s+/m);
      const wide = expectOk(await kubectl(['get', 'vpcs', '-n', 'get-a', '-o', 'wide']));
      expect(wide.split('\n')[0]).toMatch(/^NAME\s+CIDRS\s+SUBNETS\s+REASON\s+DELETING\s+READY\s+AGE$/);
      const labelled = expectOk(await kubectl(['get', 'vpcs', '-n', 'get-a', '-L', 'tier']));
      expect(labelled).toMatch(/^zeta\s+.*\sprod$/m);
      expect(labelled).toMatch(/^alpha\s+.*\sdev$/m);
      const selected = expectOk(await kubectl(['get', 'vpcs', '-n', 'get-a', '-l', 'tier=prod', '-o', 'name']));
      expect(selected.trim()).toBe('vpc.network.photoncloud.io/zeta');
      const sorted = expectOk(await kubectl(['get', 'vpcs', '-A', '-l', 'suite=get', '--sort-by=.spec.cidrBlocks[0]', '-o', 'custom-columns=NAME:.metadata.name', '--no-headers']));
      expect(sorted.trim().split('\n')).toEqual(['mid', 'zeta', 'alpha']);
      const yaml = YAML.parse(expectOk(await kubectl(['get', 'vpc', 'zeta', '-n', 'get-a', '-o', 'yaml'])));
      expect(yaml).toMatchObject({ apiVersion: NETWORK, kind: 'Vpc', metadata: { name: 'zeta', namespace: 'get-a', labels: { tier: 'prod' } }, spec: { cidrBlocks: ['10.20.0.0/16'] } });
      expect(yaml.metadata.resourceVersion).toMatch(/^\d+$/);
    });

    it('streams changes with get -w until the watched object is deleted', async () => {
      await namespace('watch-ns');
      expectOk(await kubectl(['apply', '-f', '-'], manifest(vpc('w1', 'watch-ns'))));
      const watcher = spawn('kubectl', ['get', 'vpcs', '-n', 'watch-ns', '-w', '--output-watch-events'], { env: { ...process.env, KUBECONFIG: env.kubeconfig } });
      let output = '';
      watcher.stdout.on('data', (chunk) => (output += chunk));
      watcher.stderr.on('data', (chunk) => (output += chunk));
      try {
        await waitFor('initial listing', () => /ADDED\s+w1/.test(output));
        expectOk(await kubectl(['apply', '-f', '-'], manifest(vpc('w2', 'watch-ns'))));
        await waitFor('ADDED w2', () => /ADDED\s+w2/.test(output));
        expectOk(await kubectl(['label', 'vpc', 'w1', '-n', 'watch-ns', 'seen=yes']));
        await waitFor('MODIFIED w1', () => /MODIFIED\s+w1/.test(output));
        expectOk(await kubectl(['delete', 'vpc', 'w2', '-n', 'watch-ns']));
        await waitFor('DELETED w2', () => /DELETED\s+w2/.test(output));
      } finally {
        watcher.kill();
      }
    });

    it('labels and patches with merge, JSON and status-subresource patches', async () => {
      await namespace('patch-ns');
      expectOk(await kubectl(['apply', '-f', '-'], manifest(vpc('p', 'patch-ns'))));
      expectOk(await kubectl(['label', 'vpc', 'p', '-n', 'patch-ns', 'env=test']));
      expectOk(await kubectl(['patch', 'vpc', 'p', '-n', 'patch-ns', '--type=merge', '-p', '{"spec":{"cidrBlocks":["10.0.0.0/16","10.5.0.0/16"]}}']));
      expectOk(await kubectl(['patch', 'vpc', 'p', '-n', 'patch-ns', '--type=json', '-p', '[{"op":"add","path":"/spec/staticRoutes","value":[{"destination":"0.0.0.0/0","nextHop":"10.0.0.1"}]}]']));
      // status through the main resource is ignored; through /status it lands and leaves generation alone.
      expectOk(await kubectl(['patch', 'vpc', 'p', '-n', 'patch-ns', '--type=merge', '-p', '{"status":{"observedGeneration":99}}']));
      expectOk(await kubectl(['patch', 'vpc', 'p', '-n', 'patch-ns', '--subresource=status', '--type=merge', '-p', '{"status":{"observedGeneration":3}}']));
      const live = JSON.parse(expectOk(await kubectl(['get', 'vpc', 'p', '-n', 'patch-ns', '-o', 'json'])));
      expect(live.metadata.labels).toEqual({ env: 'test' });
      expect(live.spec.cidrBlocks).toEqual(['10.0.0.0/16', '10.5.0.0/16']);
      expect(live.spec.staticRoutes).toEqual([{ destination: '0.0.0.0/0', nextHop: '10.0.0.1' }]);
      expect(live.status).toEqual({ observedGeneration: 3 });
      expect(live.metadata.generation).toBe(3);
      const failedTest = await kubectl(['patch', 'vpc', 'p', '-n', 'patch-ns', '--type=json', '-p', '[{"op":"test","path":"/spec/cidrBlocks/0","value":"1.2.3.0/24"}]']);
      expect(failedTest.code).not.toBe(0);
      expect(failedTest.stderr).toContain('test operation failed');
    });

    it('waits for condition=Ready (only once observedGeneration is current) and for a jsonpath', async () => {
      await namespace('wait-ns');
      expectOk(await kubectl(['apply', '-f', '-'], manifest(vpc('v', 'wait-ns'))));
      const waiting = kubectl(['wait', 'vpc/v', '-n', 'wait-ns', '--for=condition=Ready', '--timeout=30s']);
      const ready = (generation: number) =>
        JSON.stringify({ status: { observedGeneration: generation, conditions: [{ type: 'Ready', status: 'True', reason: 'Programmed', message: 'router programmed', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: generation }] } });
      expectOk(await kubectl(['patch', 'vpc', 'v', '-n', 'wait-ns', '--subresource=status', '--type=merge', '-p', ready(1)]));
      const waited = await waiting;
      expect(waited.code).toBe(0);
      expect(waited.stdout).toContain('vpc.network.photoncloud.io/v condition met');
      // A spec change makes the Ready condition stale: wait must not succeed on it.
      expectOk(await kubectl(['patch', 'vpc', 'v', '-n', 'wait-ns', '--type=merge', '-p', '{"spec":{"cidrBlocks":["10.0.0.0/8"]}}']));
      const stale = await kubectl(['wait', 'vpc/v', '-n', 'wait-ns', '--for=condition=Ready', '--timeout=2s']);
      expect(stale.code).not.toBe(0);
      expect(stale.stderr).toContain('timed out');
      const byPath = kubectl(['wait', 'vpc/v', '-n', 'wait-ns', '--for=jsonpath={.status.observedGeneration}=2', '--timeout=30s']);
      expectOk(await kubectl(['patch', 'vpc', 'v', '-n', 'wait-ns', '--subresource=status', '--type=merge', '-p', ready(2)]));
      expect((await byPath).code).toBe(0);
    });

    it('explains a kind and a nested field from the CRD schema', async () => {
      const kind = expectOk(await kubectl(['explain', 'vpc']));
      expect(kind).toMatch(/KIND:\s+Vpc/);
      expect(kind).toMatch(/GROUP:\s+network\.photoncloud\.io/);
      expect(kind).toContain('spec');
      const nested = expectOk(await kubectl(['explain', 'subnet.spec.dhcp.leaseSeconds']));
      expect(nested).toMatch(/FIELD:\s+leaseSeconds\s+<integer>/);
      const metadata = expectOk(await kubectl(['explain', 'vpc.metadata.finalizers']));
      expect(metadata).toContain('finalizers');
    });

    it('keeps an object held by a finalizer until the finalizer is removed', async () => {
      await namespace('final-ns');
      expectOk(await kubectl(['apply', '-f', '-'], manifest({ ...vpc('held', 'final-ns'), metadata: { name: 'held', namespace: 'final-ns', finalizers: ['network.photoncloud.io/test'] } })));
      const deleting = kubectl(['delete', 'vpc', 'held', '-n', 'final-ns', '--timeout=60s']);
      const marked = await waitFor('deletionTimestamp', async () => {
        const live = await kubectl(['get', 'vpc', 'held', '-n', 'final-ns', '-o', 'json']);
        return live.code === 0 && JSON.parse(live.stdout).metadata.deletionTimestamp ? JSON.parse(live.stdout) : undefined;
      });
      expect(marked.metadata.finalizers).toEqual(['network.photoncloud.io/test']);
      // No new finalizers once deletion has started.
      const added = await kubectl(['patch', 'vpc', 'held', '-n', 'final-ns', '--type=merge', '-p', '{"metadata":{"finalizers":["network.photoncloud.io/test","x.io/more"]}}']);
      expect(added.code).not.toBe(0);
      expect(added.stderr).toContain('no new finalizers can be added if the object is being deleted');
      expectOk(await kubectl(['patch', 'vpc', 'held', '-n', 'final-ns', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']));
      const deleted = await deleting;
      expect(deleted.code).toBe(0);
      expect(deleted.stdout).toContain('vpc.network.photoncloud.io "held" deleted');
      const gone = await kubectl(['get', 'vpc', 'held', '-n', 'final-ns']);
      expect(gone.stderr.trim()).toBe('Error from server (NotFound): vpcs.network.photoncloud.io "held" not found');
    });

    it('creates namespaces and empties a namespace before it disappears', async () => {
      await namespace('doomed');
      expectOk(await kubectl(['apply', '-f', '-'], manifest(vpc('a', 'doomed'), vpc('b', 'doomed'), subnet('s', 'doomed', 'a', '10.0.0.0/24'))));
      const listed = expectOk(await kubectl(['get', 'namespaces']));
      expect(listed).toMatch(/^doomed\s+Active\s+/m);
      const deleted = await kubectl(['delete', 'namespace', 'doomed', '--timeout=60s']);
      expect(deleted).toMatchObject({ code: 0 });
      expect((await kubectl(['get', 'namespace', 'doomed'])).stderr).toContain('namespaces "doomed" not found');
      const leftovers = expectOk(await kubectl(['get', 'vpcs,subnets', '-A', '-o', 'name']));
      expect(leftovers).not.toMatch(/\/(a|b|s)$/m);
      expect((await kubectl(['delete', 'namespace', 'default'])).stderr).toContain('namespaces "default" is forbidden: this namespace may not be deleted');
    });

    it('prints the Kubernetes error texts for 404, 409, 422 and 400', async () => {
      await namespace('errors-ns');
      expect((await kubectl(['get', 'vpc', 'nope', '-n', 'errors-ns'])).stderr.trim()).toBe('Error from server (NotFound): vpcs.network.photoncloud.io "nope" not found');
      expect((await kubectl(['get', 'vpc', 'nope', '-n', 'no-such-ns'])).stderr.trim()).toBe('Error from server (NotFound): namespaces "no-such-ns" not found');
      expectOk(await kubectl(['create', '-f', '-'], manifest(vpc('dup', 'errors-ns'))));
      expect((await kubectl(['create', '-f', '-'], manifest(vpc('dup', 'errors-ns')))).stderr).toContain('Error from server (AlreadyExists): error when creating "STDIN": vpcs.network.photoncloud.io "dup" already exists');
      const stale = { ...vpc('dup', 'errors-ns'), metadata: { name: 'dup', namespace: 'errors-ns', resourceVersion: '1' } };
      expect((await kubectl(['replace', '-f', '-'], manifest(stale))).stderr).toContain(
        'Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on vpcs.network.photoncloud.io "dup": the object has been modified; please apply your changes to the latest version and try again',
      );
      const invalid = await kubectl(['apply', '-f', '-'], manifest(vpc('bad', 'errors-ns', { cidrBlocks: ['10.0.0.0/33'] })));
      expect(invalid.stderr).toContain('The Vpc "bad" is invalid:');
      expect(invalid.stderr).toContain('spec.cidrBlocks[0]: Invalid value: "10.0.0.0/33"');
      const missing = await kubectl(['apply', '-f', '-'], manifest({ apiVersion: NETWORK, kind: 'Subnet', metadata: { name: 'nocidr', namespace: 'errors-ns' }, spec: { vpcRef: 'dup' } }));
      expect(missing.stderr).toContain('spec.cidr: Required value');
      const badName = await kubectl(['apply', '-f', '-'], manifest(vpc('Bad_Name', 'errors-ns')));
      expect(badName.stderr).toContain('metadata.name: Invalid value: "Bad_Name"');
      const unknown = await kubectl(['apply', '-f', '-'], manifest(vpc('colourful', 'errors-ns', { cidrBlocks: ['10.0.0.0/16'], colour: 'red' })));
      expect(unknown.stderr).toContain('Error from server (BadRequest): error when creating "STDIN": Vpc in version "v1alpha1" cannot be handled as a Vpc: strict decoding error: unknown field "spec.colour"');
      const none = JSON.parse(expectOk(await kubectl(['get', 'vpcs', '-n', 'errors-ns', '-o', 'json'])));
      expect(none.items.map((item: { metadata: { name: string } }) => item.metadata.name)).toEqual(['dup']);
    });
  });
}
