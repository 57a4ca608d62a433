// What kubectl falls back to when OpenAPI v3 cannot answer, through the real kubectl of every minor
// installed (the dispatcher's kubectl.1.NN binaries, 1.27–1.33 here; the dispatcher alone elsewhere):
// - a typo in kind or group must end in kubectl's own `no matches for kind "Vcp" in version …`, which
//   needs /openapi/v2 (kubectl's field-validation check and client-side validation fall back to it; a 404
//   there turned every typo into `failed to download openapi … --validate=false`);
// - `kubectl explain --output=plaintext-openapiv2` parses every v2 definition (proof the gnostic protobuf
//   is what kubectl expects);
// - client-side `kubectl apply` of a changed built-in object (ConfigMap, Secret) and `kubectl patch` of one
//   send strategic merge patches (kubectl builds them from its compiled-in types whatever OpenAPI says), and
//   must work; custom kinds still refuse them with 415, as in Kubernetes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { run } from '../../agents/ovn-local/commands.ts';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';

const NS = 'fallbacks';
const manifest = (...objects: object[]) => objects.map((object) => YAML.stringify(object)).join('---\n');

/** `kubectl` (the dispatcher, or a plain kubectl) plus every `kubectl.1.NN` beside it, oldest first. */
function kubectlBinaries(): string[] {
  const found = process.env.PATH!.split(':').map((dir) => path.join(dir, 'kubectl')).find((file) => existsSync(file));
  if (!found) throw new Error('kubectl is not installed');
  const dir = path.dirname(realpathSync(found));
  const versioned = readdirSync(dir).filter((name) => /^kubectl\.1\.\d+$/.test(name)).sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
  return ['kubectl', ...versioned.map((name) => path.join(dir, name))];
}

describe('kubectl fallbacks: OpenAPI v2 and strategic merge patch', () => {
  let env: TestApiServer;
  const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });
  const kubectlWith = (binary: string, args: string[], stdin?: string) =>
    run(binary, args, { env: { ...process.env, KUBECONFIG: env.kubeconfig, HOME: path.dirname(env.kubeconfig) }, input: stdin, timeoutMs: 60_000 });

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    ok(await kubectl(['create', 'namespace', NS]));
  });
  afterAll(async () => {
    await env?.stop();
  });

  it.each(kubectlBinaries())('%s: a typo in kind or group gets kubectl\'s "no matches for kind" error', async (binary) => {
    const kindTypo = await kubectlWith(binary, ['apply', '-f', '-'], manifest({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vcp', metadata: { name: 'x', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } }));
    expect(kindTypo.code).not.toBe(0);
    expect(kindTypo.stderr).toContain('no matches for kind "Vcp" in version "network.photoncloud.io/v1alpha1"');
    expect(kindTypo.stderr).not.toContain('openapi');
    const groupTypo = await kubectlWith(binary, ['apply', '-f', '-'], manifest({ apiVersion: 'netwrk.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'x', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } }));
    expect(groupTypo.code).not.toBe(0);
    expect(groupTypo.stderr).toContain('no matches for kind "Vpc" in version "netwrk.photoncloud.io/v1alpha1"');
    expect(groupTypo.stderr).not.toContain('validating');
    // Nothing was written, and a good manifest beside a typo is still applied (kubectl goes on).
    const mixed = await kubectlWith(binary, ['apply', '-f', '-'], manifest(
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vcp', metadata: { name: 'typo', namespace: NS }, spec: {} },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `beside-typo-${path.basename(binary).replace(/\./g, '-')}`, namespace: NS }, data: { a: '1' } },
    ));
    expect(mixed.code).not.toBe(0);
    expect(mixed.stdout).toMatch(/configmap\/beside-typo-\S+ created/);
    expect(ok(await kubectl(['get', 'vpcs', '-n', NS, '-o', 'name']))).toBe('');
  });

  it('still validates fields server-side (strict) for kinds that exist', async () => {
    const unknown = await kubectl(['apply', '-f', '-'], manifest({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'colour', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'], colour: 'blue' } }));
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown field "spec.colour"');
  });

  it('serves /openapi/v2 that kubectl explain parses (every definition) and JSON for other clients', async () => {
    const explained = ok(await kubectl(['explain', 'subnet.spec.dhcp', '--output=plaintext-openapiv2']));
    expect(explained).toMatch(/KIND:\s+Subnet/);
    expect(explained).toMatch(/leaseSeconds\s+<integer>/);
    const metadata = ok(await kubectl(['explain', 'vpc.metadata.ownerReferences', '--output=plaintext-openapiv2']));
    expect(metadata).toMatch(/uid\s+<string> -required-/);
    const document = JSON.parse(ok(await kubectl(['get', '--raw', '/openapi/v2'])));
    expect(document.swagger).toBe('2.0');
    expect(document.definitions['io.photoncloud.network.v1alpha1.Vpc']['x-kubernetes-group-version-kind']).toEqual([{ group: 'network.photoncloud.io', kind: 'Vpc', version: 'v1alpha1' }]);
  });

  it('client-side apply changes built-in objects with strategic merge patches (ConfigMap, Secret)', async () => {
    const configMap = (data: Record<string, string>, labels?: Record<string, string>) =>
      manifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: NS, ...(labels ? { labels } : {}) }, data });
    expect(ok(await kubectl(['apply', '-f', '-'], configMap({ mtu: '1450', domain: 'acme.internal' })))).toContain('configmap/settings created');
    // Someone else adds a key: the three-way patch keeps it, removes the key the manifest dropped, changes the other.
    ok(await kubectl(['patch', 'configmap', 'settings', '-n', NS, '-p', '{"data":{"owner":"ops"}}']));
    expect(ok(await kubectl(['apply', '-f', '-'], configMap({ mtu: '9000' }, { tier: 'net' })))).toContain('configmap/settings configured');
    const live = JSON.parse(ok(await kubectl(['get', 'configmap', 'settings', '-n', NS, '-o', 'json'])));
    expect(live.data).toEqual({ mtu: '9000', owner: 'ops' });
    expect(live.metadata.labels).toEqual({ tier: 'net' });
    expect(ok(await kubectl(['apply', '-f', '-'], configMap({ mtu: '9000' }, { tier: 'net' })))).toContain('configmap/settings unchanged');

    const secret = (stringData: Record<string, string>) => manifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'token', namespace: NS }, stringData });
    ok(await kubectl(['apply', '-f', '-'], secret({ token: 'one' })));
    expect(ok(await kubectl(['apply', '-f', '-'], secret({ token: 'two' })))).toContain('secret/token configured');
    expect(Buffer.from(ok(await kubectl(['get', 'secret', 'token', '-n', NS, '-o', 'jsonpath={.data.token}'])), 'base64').toString()).toBe('two');
  });

  it('merges finalizers and deletes them with strategic merge patch directives', async () => {
    ok(await kubectl(['apply', '-f', '-'], manifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', namespace: NS, finalizers: ['example.com/a'] }, data: {} })));
    ok(await kubectl(['patch', 'configmap', 'held', '-n', NS, '-p', '{"metadata":{"finalizers":["example.com/b"]}}']));
    expect(JSON.parse(ok(await kubectl(['get', 'configmap', 'held', '-n', NS, '-o', 'jsonpath={.metadata.finalizers}'])))).toEqual(['example.com/a', 'example.com/b']);
    ok(await kubectl(['patch', 'configmap', 'held', '-n', NS, '-p', '{"metadata":{"$deleteFromPrimitiveList/finalizers":["example.com/a","example.com/b"]}}']));
    expect(JSON.parse(ok(await kubectl(['get', 'configmap', 'held', '-n', NS, '-o', 'jsonpath={.metadata.finalizers}'])) || '[]')).toEqual([]);
    const bad = await kubectl(['patch', 'configmap', 'held', '-n', NS, '-p', '{"data":{"$patch":"sideways"}}']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('invalid strategic merge patch: unknown patch type "sideways"');
  });

  it('refuses strategic merge patch for custom kinds with 415, as Kubernetes does', async () => {
    ok(await kubectl(['apply', '-f', '-'], manifest({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } })));
    const refused = await kubectl(['patch', 'vpc', 'main', '-n', NS, '--type=strategic', '-p', '{"spec":{"cidrBlocks":["10.1.0.0/16"]}}']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('application/strategic-merge-patch+json is not supported by network.photoncloud.io/v1alpha1, Kind=Vpc');
    // Client-side apply of a changed custom object keeps sending merge patches.
    expect(ok(await kubectl(['apply', '-f', '-'], manifest({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: NS }, spec: { cidrBlocks: ['10.2.0.0/16'] } })))).toContain('vpc.network.photoncloud.io/main configured');
  });
});
