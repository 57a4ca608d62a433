// A user-supplied CustomResourceDefinition through the real kubectl: applied, established within a second,
// its objects created, listed, watched, explained and validated (defaults too), served in two versions,
// refused when malformed, and removed together with the CRD (finalizers on objects honoured).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import YAML from 'yaml';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';

function widgetCrd(extra: { served?: boolean } = {}) {
  const schema = {
    openAPIV3Schema: {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          description: "The widget's wishes.",
          required: ['size'],
          properties: {
            size: { type: 'integer', minimum: 1, description: 'How big the widget is, in widget units.' },
            colour: { type: 'string', enum: ['red', 'blue'], default: 'red', description: 'Which colour it is painted.' },
          },
        },
        status: { type: 'object', properties: { ready: { type: 'boolean' } } },
      },
    },
  };
  const version = (name: string, storage: boolean) => ({
    name,
    served: name === 'v1beta1' ? extra.served ?? true : true,
    storage,
    schema,
    subresources: { status: {} },
    additionalPrinterColumns: [
      { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
      { name: 'Colour', type: 'string', jsonPath: '.spec.colour', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'], categories: ['gadgets'] },
      versions: [version('v1', true), version('v1beta1', false)],
    },
  };
}

const widget = (name: string, spec: Record<string, unknown>, apiVersion = 'example.com/v1', metadata: Record<string, unknown> = {}) =>
  YAML.stringify({ apiVersion, kind: 'Widget', metadata: { name, namespace: 'gadgets', ...metadata }, spec });

describe('user CustomResourceDefinitions', () => {
  let env: TestApiServer;
  const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'etcd' });
    ok(await kubectl(['create', 'namespace', 'gadgets']));
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('lists the built-in PhotonCloud CRDs as objects, Established', async () => {
    const crds = ok(await kubectl(['get', 'crds', '-o', 'name']));
    expect(crds).toContain('customresourcedefinition.apiextensions.k8s.io/vpcs.network.photoncloud.io');
    ok(await kubectl(['wait', '--for=condition=Established', 'crd/subnets.network.photoncloud.io', '--timeout=10s']));
  });

  it('serves a CRD within a second of applying it: create, list, watch, explain, validate, default', async () => {
    const applied = Date.now();
    ok(await kubectl(['apply', '-f', '-'], YAML.stringify(widgetCrd())));
    ok(await kubectl(['wait', '--for=condition=Established', 'crd/widgets.example.com', '--timeout=10s']));
    await waitFor('widgets in discovery', async () => (await kubectl(['api-resources', '--api-group=example.com', '--no-headers'])).stdout.includes('widgets'));
    expect(Date.now() - applied).toBeLessThan(5000); // kubectl itself takes most of it

    const watcher = spawn('kubectl', ['get', 'widgets', '-n', 'gadgets', '-w', '--output-watch-events'], { env: { ...process.env, KUBECONFIG: env.kubeconfig } });
    let watched = '';
    watcher.stdout.on('data', (chunk) => (watched += chunk));
    try {
      ok(await kubectl(['apply', '-f', '-'], widget('small', { size: 2 })));
      await waitFor('watched ADDED small', () => /ADDED\s+small/.test(watched));
    } finally {
      watcher.kill();
    }
    const small = JSON.parse(ok(await kubectl(['get', 'wd', 'small', '-n', 'gadgets', '-o', 'json'])));
    expect(small.spec).toEqual({ size: 2, colour: 'red' }); // defaulted
    expect(small.metadata.generation).toBe(1);
    const wide = ok(await kubectl(['get', 'gadgets', '-n', 'gadgets', '-o', 'wide']));
    expect(wide).toMatch(/^small\s+2\s+red\s+\d+s$/m); // the category resolves to widgets; -o wide adds Colour
    const explained = ok(await kubectl(['explain', 'widget.spec.size']));
    expect(explained).toContain('How big the widget is');
    const invalid = await kubectl(['apply', '-f', '-'], widget('tiny', { size: 0, colour: 'green' }));
    expect(invalid.stderr).toContain('The Widget "tiny" is invalid');
    expect(invalid.stderr).toContain('spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1');
    expect(invalid.stderr).toContain('spec.colour: Unsupported value: "green": supported values: "red", "blue"');
  });

  it('serves every served version of one stored object', async () => {
    ok(await kubectl(['apply', '-f', '-'], widget('beta', { size: 5, colour: 'blue' }, 'example.com/v1beta1')));
    const asV1 = JSON.parse(ok(await kubectl(['get', 'widgets.v1.example.com', 'beta', '-n', 'gadgets', '-o', 'json'])));
    const asBeta = JSON.parse(ok(await kubectl(['get', 'widgets.v1beta1.example.com', 'beta', '-n', 'gadgets', '-o', 'json'])));
    expect(asV1.apiVersion).toBe('example.com/v1');
    expect(asBeta.apiVersion).toBe('example.com/v1beta1');
    expect(asV1.spec).toEqual(asBeta.spec);
    expect(asV1.metadata.uid).toBe(asBeta.metadata.uid);
    const crd = JSON.parse(ok(await kubectl(['get', 'crd', 'widgets.example.com', '-o', 'json'])));
    expect(crd.status.storedVersions).toEqual(['v1']);
    // Stop serving v1beta1: it leaves discovery, v1 stays.
    ok(await kubectl(['apply', '-f', '-'], YAML.stringify(widgetCrd({ served: false }))));
    await waitFor('v1beta1 gone', async () => (await kubectl(['get', '--raw', '/apis/example.com/v1beta1'])).code !== 0);
    expect(ok(await kubectl(['get', '--raw', '/apis/example.com/v1'])).includes('widgets')).toBe(true);
  });

  it('refuses malformed CRDs with 422', async () => {
    const noStorage = widgetCrd();
    noStorage.metadata.name = 'things.example.com';
    noStorage.spec.names = { plural: 'things', singular: 'thing', kind: 'Thing', shortNames: [], categories: [] };
    noStorage.spec.versions.forEach((version) => (version.storage = false));
    const refused = await kubectl(['apply', '-f', '-'], YAML.stringify(noStorage));
    expect(refused.stderr).toContain('must have exactly one version marked as storage version');
    const wrongName = { ...widgetCrd(), metadata: { name: 'gizmos.example.com' } };
    expect((await kubectl(['apply', '-f', '-'], YAML.stringify(wrongName))).stderr).toContain('must be spec.names.plural+"."+spec.group');
    const badSchema = widgetCrd();
    badSchema.metadata.name = 'doohickeys.example.com';
    badSchema.spec.names = { plural: 'doohickeys', singular: 'doohickey', kind: 'Doohickey', shortNames: [], categories: [] };
    (badSchema.spec.versions[0].schema.openAPIV3Schema.properties.spec as Record<string, unknown>).notAKeyword = true;
    expect((await kubectl(['apply', '-f', '-'], YAML.stringify(badSchema))).stderr).toContain('is invalid');
    expect(ok(await kubectl(['get', 'crds', '-o', 'name']))).not.toMatch(/things|gizmos|doohickeys/);
  });

  it('removes the objects with the CRD, after their finalizers are released', async () => {
    ok(await kubectl(['apply', '-f', '-'], widget('held', { size: 1 }, 'example.com/v1', { finalizers: ['example.com/hold'] })));
    const deleting = kubectl(['delete', 'crd', 'widgets.example.com', '--timeout=60s']);
    await waitFor('CRD terminating', async () => {
      const crd = await kubectl(['get', 'crd', 'widgets.example.com', '-o', 'json']);
      return crd.code === 0 && JSON.parse(crd.stdout).status.conditions.some((condition: { type: string; status: string }) => condition.type === 'Terminating' && condition.status === 'True');
    });
    // Everything without a finalizer is already gone; the held object waits.
    const left = JSON.parse(ok(await kubectl(['get', 'widgets', '-n', 'gadgets', '-o', 'json'])));
    expect(left.items.map((item: { metadata: { name: string } }) => item.metadata.name)).toEqual(['held']);
    ok(await kubectl(['patch', 'widget', 'held', '-n', 'gadgets', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']));
    expect((await deleting).code).toBe(0);
    await waitFor('widgets gone from discovery', async () => (await kubectl(['get', '--raw', '/apis/example.com/v1'])).code !== 0);
    // Re-creating the CRD brings back no objects: they were really deleted.
    ok(await kubectl(['apply', '-f', '-'], YAML.stringify(widgetCrd())));
    ok(await kubectl(['wait', '--for=condition=Established', 'crd/widgets.example.com', '--timeout=10s']));
    const after = JSON.parse(ok(await kubectl(['get', '--raw', '/apis/example.com/v1/namespaces/gadgets/widgets'])));
    expect(after.items).toEqual([]);
  });
});
