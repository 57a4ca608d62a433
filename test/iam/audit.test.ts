// The audit log end to end: a real API server (embedded store) with its default policy, the real kubectl
// doing what a user does, and the real `photon audit verify` on the file it wrote. The lines name the right
// user, verb and object; IAM changes carry their objects; no Secret value, User password or bearer token
// appears anywhere in the file, even under a policy that asks for every object; the chain survives a restart;
// an edited copy fails verification naming the edited line; a policy file that is broken stops the server.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { run } from '../../agents/ovn-local/commands.ts';
import { DEFAULT_POLICY_YAML } from '../../apiserver/audit/default-policy.ts';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';

const SECRET_VALUE = 'audit-test-Secret-value-7f3a9c';
const PASSWORD = 'audit-test-Password-b81e2d';
const WAIT = { timeoutMs: 15_000, intervalMs: 50 };

type Event = Record<string, any>;

/** `photon audit verify FILE` as an operator runs it. */
function photonAuditVerify(file: string) {
  return run(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'cli/photon.ts'), 'audit', 'verify', file], { timeoutMs: 60_000 });
}

describe('the audit log', () => {
  let env: TestApiServer;
  let logFile: string;
  let scratch: string;
  const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });
  const readEvents = async (): Promise<Event[]> => (await fs.readFile(logFile, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line));
  /** Lines are written asynchronously: wait until one matching `match` is in the file. */
  const waitForEvent = (what: string, match: (event: Event) => boolean) => waitFor(`an audit event for ${what}`, async () => (await readEvents()).find(match), WAIT);

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    logFile = path.join(env.home, 'audit', 'audit.log');
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-audit-it-'));
  });
  afterAll(async () => {
    await env?.stop();
    if (scratch) await fs.rm(scratch, { recursive: true, force: true });
  });

  it('writes the default policy and logs who did what to which object, at the level the policy says', async () => {
    expect(await fs.readFile(path.join(env.home, 'audit', 'policy.yaml'), 'utf8')).toBe(DEFAULT_POLICY_YAML);
    ok(await kubectl(['create', 'namespace', 'audit-ns']));
    ok(await kubectl(['create', 'configmap', 'settings', '-n', 'audit-ns', '--from-literal=color=blue']));
    ok(await kubectl(['get', 'configmap', 'settings', '-n', 'audit-ns']));

    const create = await waitForEvent('the ConfigMap create', (event) => event.verb === 'create' && event.objectRef?.resource === 'configmaps');
    expect(create).toMatchObject({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      stage: 'ResponseComplete',
      user: { username: 'admin', groups: expect.arrayContaining(['system:masters']) },
      objectRef: { resource: 'configmaps', namespace: 'audit-ns', name: 'settings', apiVersion: 'v1' },
      responseStatus: { code: 201 },
      sourceIPs: ['127.0.0.1'],
      userAgent: expect.stringMatching(/^kubectl/),
      annotations: { 'authorization.k8s.io/decision': 'allow' },
    });
    expect(create.requestURI).toMatch(/^\/api\/v1\/namespaces\/audit-ns\/configmaps/);
    expect(create.requestReceivedTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(create.stageTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(create.requestObject).toBeUndefined();
    await waitForEvent('the ConfigMap get', (event) => event.verb === 'get' && event.objectRef?.name === 'settings' && event.responseStatus.code === 200);

    // Probes and the version are not audited by the default policy.
    ok(await kubectl(['get', '--raw', '/readyz']));
    ok(await kubectl(['get', '--raw', '/version']));
    const events = await readEvents();
    expect(events.filter((event) => /^\/(readyz|healthz|livez|version)/.test(event.requestURI))).toEqual([]);
  });

  it('logs changes to IAM objects with their request and response objects', async () => {
    const group = { apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Group', metadata: { name: 'audit-admins' }, spec: { displayName: 'Audit admins', members: ['alice'] } };
    ok(await kubectl(['create', '-f', '-'], JSON.stringify(group)));
    const event = await waitForEvent('the Group create', (candidate) => candidate.verb === 'create' && candidate.objectRef?.resource === 'groups');
    expect(event).toMatchObject({ level: 'RequestResponse', objectRef: { apiGroup: 'iam.photoncloud.io', apiVersion: 'v1alpha1', name: 'audit-admins' }, responseStatus: { code: 201 } });
    expect(event.requestObject).toEqual(group);
    expect(event.responseObject).toMatchObject({ kind: 'Group', metadata: { name: 'audit-admins', uid: expect.any(String) }, spec: { members: ['alice'] } });
    // Reads of them stay at Metadata.
    ok(await kubectl(['get', 'groups.iam.photoncloud.io', 'audit-admins']));
    const read = await waitForEvent('the Group get', (candidate) => candidate.verb === 'get' && candidate.objectRef?.name === 'audit-admins');
    expect(read.level).toBe('Metadata');
    expect(read.responseObject).toBeUndefined();
  });

  it('never writes a Secret value, a password or a bearer token, even when the policy asks for every object', async () => {
    // First under the default policy, then under one that logs every object of every request.
    const secretSteps = async (name: string) => {
      ok(await kubectl(['create', 'secret', 'generic', name, '-n', 'audit-ns', `--from-literal=password=${SECRET_VALUE}`]));
      ok(await kubectl(['get', 'secret', name, '-n', 'audit-ns', '-o', 'yaml']));
      ok(await kubectl(['get', 'secrets', '-n', 'audit-ns', '-o', 'json']));
      ok(await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-applied`, namespace: 'audit-ns' }, stringData: { token: SECRET_VALUE } })));
      ok(await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'User', metadata: { name: `${name}-user` }, spec: { email: `${name}@example.com`, password: PASSWORD } })));
      ok(await kubectl(['get', 'user', `${name}-user`, '-o', 'yaml']));
      ok(await kubectl(['delete', 'secret', name, '-n', 'audit-ns']));
      await waitForEvent(`the delete of Secret ${name}`, (event) => event.verb === 'delete' && event.objectRef?.name === name);
    };
    await secretSteps('creds');

    await env.stopServer();
    await fs.writeFile(path.join(env.home, 'audit', 'policy.yaml'), 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: RequestResponse\n');
    await env.startServer();
    await secretSteps('creds2');

    const text = await fs.readFile(logFile, 'utf8');
    for (const forbidden of [SECRET_VALUE, Buffer.from(SECRET_VALUE).toString('base64'), PASSWORD, 'scrypt$', env.server.adminToken]) {
      expect(text.includes(forbidden)).toBe(false);
    }
    const events = await readEvents();
    // Under the second policy the Secret requests are logged at RequestResponse, without their objects.
    const secretCreate = events.find((event) => event.verb === 'create' && event.objectRef?.resource === 'secrets' && event.objectRef?.name === 'creds2');
    expect(secretCreate).toMatchObject({ level: 'RequestResponse', annotations: { 'audit.photoncloud.io/objects-omitted': 'Secret: objects are never logged' } });
    expect(secretCreate!.requestObject).toBeUndefined();
    // A User's request object is logged, its password redacted (and its last-applied copy with it).
    const userWrite = events.find((event) => event.objectRef?.resource === 'users' && event.objectRef?.name === 'creds2-user' && event.requestObject);
    expect(userWrite!.requestObject.spec).toMatchObject({ email: 'creds2@example.com', password: '<redacted>' });
  });

  it('the chain verifies across restarts with photon audit verify; an edited copy fails naming the edited line', async () => {
    await env.restart();
    ok(await kubectl(['get', 'configmap', 'settings', '-n', 'audit-ns']));
    await waitFor('the get after the restart', async () => (await readEvents()).filter((event) => event.verb === 'get' && event.objectRef?.name === 'settings').length >= 2, WAIT);
    // The last request may still be on its way to the file: verify a consistent snapshot of whole lines.
    const snapshot = path.join(scratch, 'audit.log');
    const whole = await fs.readFile(logFile, 'utf8');
    await fs.writeFile(snapshot, whole.slice(0, whole.lastIndexOf('\n') + 1));
    const lines = whole.slice(0, whole.lastIndexOf('\n')).split('\n');

    const verified = await photonAuditVerify(snapshot);
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toMatch(new RegExp(`^${lines.length} lines verified \\(last hash [0-9a-f]{64}\\)\\n$`));
    expect(verified.code).toBe(0);

    // Someone rewrites who created the ConfigMap.
    const index = lines.findIndex((line) => line.includes('"verb":"create"') && line.includes('"resource":"configmaps"'));
    expect(index).toBeGreaterThan(-1);
    const edited = [...lines];
    edited[index] = edited[index]!.replace('"username":"admin"', '"username":"mallory"');
    const editedFile = path.join(scratch, 'edited.log');
    await fs.writeFile(editedFile, edited.join('\n') + '\n');
    const failed = await photonAuditVerify(editedFile);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe(`${editedFile}: line ${index + 1} is broken: its content does not match its hash: the line was edited\n`);

    // And one that drops that line instead: the next line is named.
    const droppedFile = path.join(scratch, 'dropped.log');
    await fs.writeFile(droppedFile, lines.filter((_, position) => position !== index).join('\n') + '\n');
    const dropped = await photonAuditVerify(droppedFile);
    expect(dropped.code).toBe(1);
    expect(dropped.stdout).toMatch(new RegExp(`line ${index + 1} is broken: it does not (follow the line before it|start the chain)`));

    const usage = await run(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'cli/photon.ts'), 'audit', 'verify'], { timeoutMs: 60_000 });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/Usage: photon audit verify FILE/);
  });

  it('a broken policy file stops the server at start-up, naming the file and the problem (exit 78)', async () => {
    const home = path.join(scratch, 'bad-home');
    const policyFile = path.join(scratch, 'bad-policy.yaml');
    await fs.writeFile(policyFile, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Everything\n');
    const result = await run(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'cli/photon.ts'), 'apiserver', '--home', home, '--secure-port', '0', '--audit-policy-file', policyFile], { timeoutMs: 60_000 });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`audit policy file ${policyFile}: rules[0].level must be one of None, Metadata, Request, RequestResponse, got "Everything"`);
  });
});
