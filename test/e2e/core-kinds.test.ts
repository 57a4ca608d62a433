// The core kinds controllers lean on, through the real kubectl: ConfigMap, Secret and ServiceAccount (kubectl
// creates them with protobuf bodies), Events in both API groups (kubectl describe and kubectl events show
// them; they expire), and Leases.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import YAML from 'yaml';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';

const NS = 'core-kinds';

describe('core kinds', () => {
  let env: TestApiServer;
  const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded', overrides: { eventTtlSeconds: 3 } });
    ok(await kubectl(['create', 'namespace', NS]));
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('creates ConfigMaps, Secrets and ServiceAccounts the way kubectl does, and keeps immutable ones immutable', async () => {
    ok(await kubectl(['create', 'configmap', 'settings', '-n', NS, '--from-literal=mtu=1450', '--from-literal=domain=acme.internal']));
    ok(await kubectl(['create', 'secret', 'generic', 'db', '-n', NS, '--from-literal=password=hunter2']));
    ok(await kubectl(['create', 'serviceaccount', 'vpc-controller', '-n', NS]));
    const listed = ok(await kubectl(['get', 'configmaps,secrets,serviceaccounts', '-n', NS]));
    expect(listed).toMatch(/configmap\/settings\s+2\s+/);
    expect(listed).toMatch(/secret\/db\s+Opaque\s+1\s+/);
    expect(listed).toMatch(/serviceaccount\/vpc-controller\s+0\s+/);
    expect(Buffer.from(ok(await kubectl(['get', 'secret', 'db', '-n', NS, '-o', 'jsonpath={.data.password}'])), 'base64').toString()).toBe('hunter2');
    // stringData is write-only: folded into data.
    ok(await kubectl(['apply', '-f', '-'], YAML.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'api', namespace: NS }, stringData: { token: 's3cr3t' } })));
    const api = JSON.parse(ok(await kubectl(['get', 'secret', 'api', '-n', NS, '-o', 'json'])));
    expect(api.stringData).toBeUndefined();
    expect(Buffer.from(api.data.token, 'base64').toString()).toBe('s3cr3t');
    ok(await kubectl(['apply', '-f', '-'], YAML.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'frozen', namespace: NS }, data: { a: '1' }, immutable: true })));
    const change = await kubectl(['patch', 'configmap', 'frozen', '-n', NS, '--type=merge', '-p', '{"data":{"a":"2"}}']);
    expect(change.stderr).toContain('data: Forbidden: field is immutable when `immutable` is set');
    ok(await kubectl(['label', 'configmap', 'frozen', '-n', NS, 'metadata=still-editable']));
    const badKey = await kubectl(['create', 'configmap', 'bad', '-n', NS, '--from-literal=no/slash=x']);
    expect(badKey.stderr).toContain('a valid config key must consist of alphanumeric characters');
  });

  it('shows Events in kubectl describe and kubectl events, in both API groups', async () => {
    ok(await kubectl(['apply', '-f', '-'], YAML.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } })));
    const vpc = JSON.parse(ok(await kubectl(['get', 'vpc', 'main', '-n', NS, '-o', 'json'])));
    // This server expires events after 3 s (for the next test); these ones are dated so that they stay.
    const now = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    ok(await kubectl(['create', '-f', '-'], YAML.stringify({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'main.router', namespace: NS },
      involvedObject: { apiVersion: vpc.apiVersion, kind: 'Vpc', name: 'main', namespace: NS, uid: vpc.metadata.uid },
      reason: 'RouterProgrammed',
      message: 'logical router lr-main programmed in OVN',
      type: 'Normal',
      source: { component: 'vpc-controller' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 3,
    })));
    const described = ok(await kubectl(['describe', 'vpc', 'main', '-n', NS]));
    expect(described).toMatch(/Events:\s*\n\s+Type\s+Reason\s+Age\s+From\s+Message/);
    expect(described).toMatch(/Normal\s+RouterProgrammed\s+.*vpc-controller\s+logical router lr-main programmed in OVN/);
    const events = ok(await kubectl(['events', '-n', NS]));
    expect(events).toMatch(/Normal\s+RouterProgrammed\s+Vpc\/main\s+logical router lr-main programmed in OVN/);
    const table = ok(await kubectl(['get', 'events', '-n', NS]));
    expect(table.split('\n')[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
    expect(table).toMatch(/Normal\s+RouterProgrammed\s+vpc\/main\s+logical router/);
    const v1 = JSON.parse(ok(await kubectl(['get', 'events.v1.events.k8s.io', 'main.router', '-n', NS, '-o', 'json'])));
    expect(v1).toMatchObject({ apiVersion: 'events.k8s.io/v1', regarding: { kind: 'Vpc', name: 'main' }, note: 'logical router lr-main programmed in OVN', deprecatedCount: 3, reason: 'RouterProgrammed' });
    // Written through events.k8s.io, read through core v1.
    ok(await kubectl(['create', '-f', '-'], YAML.stringify({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'main.subnet', namespace: NS },
      eventTime: new Date(Date.now() + 3_600_000).toISOString().replace('Z', '000Z'),
      regarding: { apiVersion: vpc.apiVersion, kind: 'Vpc', name: 'main', namespace: NS, uid: vpc.metadata.uid },
      reason: 'SubnetAttached',
      note: 'subnet web attached',
      type: 'Normal',
      action: 'Attach',
      reportingController: 'photoncloud.io/vpc-controller',
      reportingInstance: 'controller-manager-1',
    })));
    const core = JSON.parse(ok(await kubectl(['get', 'events', 'main.subnet', '-n', NS, '-o', 'json'])));
    expect(core).toMatchObject({ apiVersion: 'v1', involvedObject: { name: 'main' }, message: 'subnet web attached', reportingComponent: 'photoncloud.io/vpc-controller' });
    const selected = ok(await kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=main,reason=SubnetAttached', '-o', 'name']));
    expect(selected.trim()).toBe('event/main.subnet');
  });

  it('expires Events after the TTL', async () => {
    const old = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    ok(await kubectl(['create', '-f', '-'], YAML.stringify({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'stale', namespace: NS }, involvedObject: { kind: 'Vpc', name: 'main', namespace: NS }, reason: 'Old', message: 'long ago', lastTimestamp: old, type: 'Normal' })));
    await waitFor('the stale event to expire', async () => (await kubectl(['get', 'event', 'stale', '-n', NS])).code !== 0, { timeoutMs: 15_000, intervalMs: 250 });
  });

  it('stores Leases', async () => {
    ok(await kubectl(['apply', '-f', '-'], YAML.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'controller-manager', namespace: 'photon-system' }, spec: { holderIdentity: 'cm-1', leaseDurationSeconds: 15, renewTime: '2026-11-28T10:00:00.123456Z', leaseTransitions: 0 } })));
    const leases = ok(await kubectl(['get', 'leases', '-n', 'photon-system']));
    expect(leases).toMatch(/^controller-manager\s+cm-1\s+/m);
    const lease = JSON.parse(ok(await kubectl(['get', 'lease', 'controller-manager', '-n', 'photon-system', '-o', 'json'])));
    expect(lease.spec.renewTime).toBe('2026-11-28T10:00:00.123456Z');
    const invalid = await kubectl(['patch', 'lease', 'controller-manager', '-n', 'photon-system', '--type=merge', '-p', '{"spec":{"leaseDurationSeconds":0}}']);
    expect(invalid.stderr).toContain('spec.leaseDurationSeconds');
  });
});
