// Server-side apply with field ownership, through the real kubectl: two appliers (a GitOps tool and an
// operator) share a Subnet — a conflict, a forced takeover, shared ownership, and fields released when an
// applier stops sending them. Also how Update writers (kubectl edit/patch, controllers) own what they set.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import YAML from 'yaml';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';

const NS = 'ssa';

const subnet = (spec: Record<string, unknown>, labels?: Record<string, string>) =>
  YAML.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'shared', namespace: NS, ...(labels ? { labels } : {}) }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24', ...spec } });

interface ManagedFieldsEntry {
  manager: string;
  operation: string;
  fieldsV1: Record<string, unknown>;
}

describe('server-side apply field ownership', () => {
  let env: TestApiServer;
  const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });
  const live = async () => JSON.parse(ok(await kubectl(['get', 'subnet', 'shared', '-n', NS, '-o', 'json', '--show-managed-fields'])));
  const owned = (entries: ManagedFieldsEntry[], manager: string) => JSON.stringify(entries.find((entry) => entry.manager === manager)?.fieldsV1 ?? {});
  const apply = (manager: string, manifest: string, ...extra: string[]) => kubectl(['apply', '--server-side', `--field-manager=${manager}`, ...extra, '-f', '-'], manifest);

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'etcd' });
    ok(await kubectl(['create', 'namespace', NS]));
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('records who owns what, refuses a conflicting apply, and lets --force-conflicts take over', async () => {
    ok(await apply('gitops', subnet({ dhcp: { leaseSeconds: 3600, dnsServers: ['10.0.1.53'] } }, { team: 'net' })));
    let object = await live();
    expect(object.metadata.managedFields).toHaveLength(1);
    expect(object.metadata.managedFields[0]).toMatchObject({ manager: 'gitops', operation: 'Apply', apiVersion: 'network.photoncloud.io/v1alpha1', fieldsType: 'FieldsV1' });
    expect(owned(object.metadata.managedFields, 'gitops')).toContain('"f:leaseSeconds"');

    // The same values are no conflict: both own them.
    ok(await apply('operator', subnet({ dhcp: { leaseSeconds: 3600 } }, { team: 'net' })));
    // A different value is.
    const conflict = await apply('operator', subnet({ dhcp: { leaseSeconds: 600 } }, { team: 'net' }));
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toContain('Apply failed with 1 conflict: conflict with "gitops": .spec.dhcp.leaseSeconds');
    expect((await live()).spec.dhcp.leaseSeconds).toBe(3600);

    ok(await apply('operator', subnet({ dhcp: { leaseSeconds: 600 } }, { team: 'net' }), '--force-conflicts'));
    object = await live();
    expect(object.spec.dhcp.leaseSeconds).toBe(600);
    expect(owned(object.metadata.managedFields, 'operator')).toContain('"f:leaseSeconds"');
    expect(owned(object.metadata.managedFields, 'gitops')).not.toContain('"f:leaseSeconds"');
  });

  it('removes fields an applier stops sending unless someone else still owns them', async () => {
    // gitops drops the label (operator still owns it: it stays) and the DNS servers (nobody else: gone).
    ok(await apply('gitops', subnet({})));
    let object = await live();
    expect(object.metadata.labels).toEqual({ team: 'net' });
    expect(object.spec.dhcp.dnsServers).toBeUndefined();
    expect(object.spec.dhcp.leaseSeconds).toBe(600);
    // Now operator releases the label too: nobody owns it, it goes.
    ok(await apply('operator', subnet({ dhcp: { leaseSeconds: 600 } })));
    object = await live();
    expect(object.metadata.labels).toBeUndefined();
    expect(object.spec.cidr).toBe('10.0.1.0/24'); // still applied by both
  });

  it('lets Update writers own what they change, and appliers conflict with them', async () => {
    ok(await kubectl(['patch', 'subnet', 'shared', '-n', NS, '--type=merge', '--field-manager=dhcp-tuner', '-p', '{"spec":{"dhcp":{"leaseSeconds":1200}}}']));
    let object = await live();
    const updater = object.metadata.managedFields.find((entry: ManagedFieldsEntry) => entry.manager === 'dhcp-tuner');
    expect(updater).toMatchObject({ operation: 'Update' });
    expect(JSON.stringify(updater.fieldsV1)).toContain('"f:leaseSeconds"');
    expect(owned(object.metadata.managedFields, 'operator')).not.toContain('"f:leaseSeconds"');
    const conflict = await apply('gitops', subnet({ dhcp: { leaseSeconds: 3600 } }));
    expect(conflict.stderr).toContain('conflict with "dhcp-tuner" using network.photoncloud.io/v1alpha1: .spec.dhcp.leaseSeconds');
    // A status write by a controller is owned separately and never touches spec ownership.
    ok(await kubectl(['patch', 'subnet', 'shared', '-n', NS, '--subresource=status', '--type=merge', '--field-manager=subnet-controller', '-p', '{"status":{"observedGeneration":1}}']));
    object = await live();
    expect(object.metadata.managedFields.find((entry: ManagedFieldsEntry & { subresource?: string }) => entry.manager === 'subnet-controller')).toMatchObject({ operation: 'Update', subresource: 'status' });
    // Managed fields stay out of kubectl's default output.
    expect(ok(await kubectl(['get', 'subnet', 'shared', '-n', NS, '-o', 'yaml']))).not.toContain('managedFields');
  });

  it('refuses an apply without a field manager or with managedFields in it', async () => {
    const token = env.server.adminToken;
    const url = `${env.url}/apis/network.photoncloud.io/v1alpha1/namespaces/${NS}/subnets/shared`;
    const body = JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'shared' }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24' } });
    const https = await import('node:https');
    const send = (query: string, payload: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = https.request(`${url}${query}`, { method: 'PATCH', ca: env.server.caCertificatePem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/apply-patch+yaml', 'Content-Length': Buffer.byteLength(payload) } }, (response) => {
          let text = '';
          response.on('data', (chunk) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        });
        request.on('error', reject);
        request.end(payload);
      });
    expect(await send('', body)).toMatchObject({ status: 400 });
    const withManaged = JSON.stringify({ ...JSON.parse(body), metadata: { name: 'shared', managedFields: [{ manager: 'x' }] } });
    const refused = await send('?fieldManager=x', withManaged);
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('managedFields must be nil');
  });
});
