// The audit log writer: only what the policy asks for is written, in order and chained; a restart resumes
// the chain from the file's last line; a line cut short by a crash is removed on the next start; an oversized
// event loses its objects and says so; a failing disk (/dev/full) or a disk that falls behind loses events,
// counted, without ever throwing into a request, and the chain on disk stays valid.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Logger } from '../../lib/logging.ts';
import { waitFor } from '../../test/env/process.ts';
import type { RequestAttributes } from '../authz/types.ts';
import { DEFAULT_POLICY_YAML } from './default-policy.ts';
import { MAX_EVENT_BYTES, OMITTED_ANNOTATION } from './event.ts';
import { AuditLog, type AuditErrorReason } from './log-file.ts';
import { parsePolicy } from './policy.ts';
import type { AuditRequest } from './types.ts';
import { verifyAuditLog } from './verify.ts';

const policy = parsePolicy(DEFAULT_POLICY_YAML);
const alice = { name: 'alice', uid: 'u-1', groups: ['system:authenticated'] };

/** A logger that records what it was told (the writer's only way to tell an operator about the disk). */
function recordingLogger() {
  const entries: Array<{ level: string; message: string; fields?: unknown }> = [];
  const record = (level: string) => (message: string, fields?: unknown) => {
    entries.push({ level, message, fields });
  };
  const log = { error: record('error'), warn: record('warn'), info: record('info'), debug: record('debug') } as unknown as Logger;
  return { log, entries };
}

let counter = 0;
function request(name: string, extra: Partial<AuditRequest> = {}, attributes: Partial<RequestAttributes> = {}): AuditRequest {
  return {
    auditId: `id-${++counter}`,
    method: 'POST',
    requestUri: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
    user: alice,
    sourceIps: ['127.0.0.1'],
    annotations: {},
    requestReceivedTimestamp: new Date(),
    attributes: { user: alice, resourceRequest: true, verb: 'create', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1', resource: 'clusterroles', subresource: '', namespace: '', name, ...attributes } as RequestAttributes,
    ...extra,
  };
}

async function readEvents(file: string): Promise<Array<Record<string, any>>> {
  const text = await fs.readFile(file, 'utf8');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-audit-log-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('the audit log writer', () => {
  it('writes what the policy asks for, in order, chained, with mode 0600; resumes the chain after a restart', async () => {
    const file = path.join(dir, 'resume', 'audit.log');
    let written = 0;
    const first = new AuditLog({ file, policy, log: recordingLogger().log, onWritten: () => written++ });
    first.complete(request('a'), 201);
    // None by the default policy: probes.
    first.complete(request('', { method: 'GET', requestUri: '/readyz', user: undefined, attributes: undefined }), 200);
    first.complete(request('b'), 201);
    await first.close();
    expect(written).toBe(2);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.dirname(file))).mode & 0o777).toBe(0o700);

    const second = new AuditLog({ file, policy, log: recordingLogger().log });
    second.complete(request('c'), 201);
    await second.close();
    const events = await readEvents(file);
    expect(events.map((event) => event.objectRef.name)).toEqual(['a', 'b', 'c']);
    expect(events.map((event) => event.level)).toEqual(['RequestResponse', 'RequestResponse', 'RequestResponse']);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines: 3 });
  });

  it('removes a last line cut short by a crash and chains on from the last whole line', async () => {
    const file = path.join(dir, 'torn.log');
    const first = new AuditLog({ file, policy, log: recordingLogger().log });
    first.complete(request('a'), 201);
    first.complete(request('b'), 201);
    await first.close();
    const whole = await fs.readFile(file, 'utf8');
    const lastLine = whole.trimEnd().split('\n').at(-1)!;
    // What a crash in the middle of writing a third line leaves.
    await fs.appendFile(file, lastLine.slice(0, 100));
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, line: 3, reason: expect.stringMatching(/^incomplete last line/) });

    const { log, entries } = recordingLogger();
    const second = new AuditLog({ file, policy, log });
    second.complete(request('c'), 201);
    await second.close();
    expect(entries).toContainEqual({ level: 'warn', message: 'the audit log ends in an incomplete line (a write was cut short); removing it', fields: { file, bytes: 100 } });
    expect((await readEvents(file)).map((event) => event.objectRef.name)).toEqual(['a', 'b', 'c']);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines: 3 });
  });

  it('after a last line it did not write, starts a new chain and says so (verify names that line)', async () => {
    const file = path.join(dir, 'foreign.log');
    const first = new AuditLog({ file, policy, log: recordingLogger().log });
    first.complete(request('a'), 201);
    await first.close();
    await fs.appendFile(file, '{"kind":"Event","added":"by hand"}\n');
    const { log, entries } = recordingLogger();
    const second = new AuditLog({ file, policy, log });
    second.complete(request('b'), 201);
    await second.close();
    expect(entries.map((entry) => entry.level)).toEqual(['error']);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, line: 2, reason: expect.stringMatching(/^no chain hash/) });
  });

  it('leaves the objects out of an event over the size limit, saying so', async () => {
    const file = path.join(dir, 'big.log');
    const audit = new AuditLog({ file, policy, log: recordingLogger().log });
    const big = { kind: 'ClusterRole', metadata: { name: 'big' }, rules: [{ verbs: ['get'], resources: ['x'.repeat(MAX_EVENT_BYTES)] }] };
    audit.complete(request('big', { requestObject: big, responseObject: big }), 201);
    audit.complete(request('small', { requestObject: { kind: 'ClusterRole', metadata: { name: 'small' } } }), 201);
    await audit.close();
    const [bigEvent, smallEvent] = await readEvents(file);
    expect(bigEvent!.requestObject).toBeUndefined();
    expect(bigEvent!.responseObject).toBeUndefined();
    expect(bigEvent!.annotations[OMITTED_ANNOTATION]).toMatch(new RegExp(`^the event would be \\d+ bytes \\(limit ${MAX_EVENT_BYTES}\\): request and response objects left out$`));
    expect(smallEvent!.requestObject).toEqual({ kind: 'ClusterRole', metadata: { name: 'small' } });
    expect((await fs.stat(file)).size).toBeLessThan(16 * 1024);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines: 2 });
  });

  it('a disk that fails loses events (counted and logged) but never throws into a request, and keeps retrying', async () => {
    const errors: AuditErrorReason[] = [];
    const { log, entries } = recordingLogger();
    const audit = new AuditLog({ file: '/dev/full', policy, log, onError: (reason) => errors.push(reason), reopenDelayMs: 20 });
    expect(() => audit.complete(request('a'), 201)).not.toThrow();
    await waitFor('the failed write to be counted', () => errors.includes('write'));
    expect(entries).toContainEqual(expect.objectContaining({ level: 'error', message: 'writing the audit log failed; events are lost until it can be reopened' }));
    // Reopened (the device opens fine), and failing again on the next write.
    await waitFor('the log to be reopened', () => entries.some((entry) => entry.message === 'the audit log is writable again'));
    audit.complete(request('b'), 201);
    await waitFor('the second failed write', () => errors.filter((reason) => reason === 'write').length >= 2);
    await audit.close();
    audit.complete(request('after-close'), 201);
    expect(errors.at(-1)).toBe('unavailable');
  });

  it('drops events while the disk is behind, before chaining them, so the file still verifies', async () => {
    const file = path.join(dir, 'backlog.log');
    const errors: AuditErrorReason[] = [];
    const audit = new AuditLog({ file, policy, log: recordingLogger().log, onError: (reason) => errors.push(reason), maxBacklogBytes: 1 });
    for (let index = 0; index < 50; index++) audit.complete(request(`r${index}`), 201);
    await audit.close();
    const lines = (await readEvents(file)).length;
    expect(errors.filter((reason) => reason === 'backlog').length).toBe(50 - lines);
    expect(errors.length).toBeGreaterThan(0);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines });
  });
});
