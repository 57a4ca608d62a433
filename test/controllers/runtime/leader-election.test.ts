// Leader election between electors in one process, on a real Lease (embedded store): exactly one leads;
// a graceful stop hands over at once; a crashed leader is replaced within the lease duration; a leader that
// cannot renew steps down; leaseTransitions counts holders.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { clientFromKubeconfig, isConflict, LeaseResource, type ApiClient, type Lease } from '../../../apis/client/index.ts';
import { LeaderElector, RuntimeMetrics } from '../../../controllers/runtime/index.ts';
import { startTestApiServer, type TestApiServer } from '../../env/apiserver.ts';
import { waitFor } from '../../env/process.ts';
import { captureLogger, sleep } from './helpers.ts';

// Short durations (client-go's defaults are 15 s / 10 s / 2 s).
const TIMING = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

interface Candidate {
  elector: LeaderElector;
  started: number;
  stopped: number;
  /** Whether the work started by onStartedLeading is running (ends when its signal aborts). */
  working: boolean;
}

describe('LeaderElector', () => {
  let env: TestApiServer;
  let client: ApiClient;
  const { logger, entries } = captureLogger();
  const registry = new Registry();
  const metrics = new RuntimeMetrics(registry);
  const candidates: Candidate[] = [];

  function candidate(lease: string, identity: string, withMetrics = false, annotationKeys: string[] = []): Candidate {
    const state: Candidate = { elector: undefined as unknown as LeaderElector, started: 0, stopped: 0, working: false };
    state.elector = new LeaderElector({
      client,
      name: lease,
      identity,
      ...TIMING,
      logger,
      metrics: withMetrics ? metrics : undefined,
      onStartedLeading: (signal) => {
        state.started++;
        state.working = true;
        return new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => {
            state.working = false;
            resolve();
          }),
        );
      },
      onStoppedLeading: () => {
        state.stopped++;
      },
    });
    candidates.push(state);
    for (const key of annotationKeys) state.elector.setAnnotation(key, undefined);
    state.elector.start();
    return state;
  }

  const lease = (name: string) => client.get<Lease>(LeaseResource, name, { namespace: 'photon-system' });
  const leaders = (...list: Candidate[]) => list.filter((entry) => entry.elector.isLeader);

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    client = clientFromKubeconfig(env.kubeconfig, { component: 'leader-election-test' });
  });

  afterEach(async () => {
    await Promise.all(candidates.splice(0).map((entry) => entry.elector.stop()));
  });

  afterAll(async () => {
    client?.close();
    await env?.stop();
  });

  it('exactly one of two leads; a graceful stop hands over within 2 s', async () => {
    const a = candidate('graceful', 'a', true);
    const b = candidate('graceful', 'b');
    await waitFor('a leader', () => leaders(a, b).length === 1, { timeoutMs: 5000 });
    // Stays exactly one over several renew periods.
    for (let i = 0; i < 6; i++) {
      await sleep(250);
      expect(leaders(a, b)).toHaveLength(1);
      expect(a.working && b.working).toBe(false);
    }
    const [first] = leaders(a, b);
    const second = first === a ? b : a;
    const before = await lease('graceful');
    expect(before.spec).toMatchObject({ holderIdentity: first.elector.identity, leaseDurationSeconds: 3, leaseTransitions: 0 });
    expect(first.started).toBe(1);
    expect(second.started).toBe(0);
    expect(second.elector.leader).toBe(first.elector.identity);
    expect(await registry.getSingleMetricAsString('photon_leader_election_status')).toContain(`photon_leader_election_status{name="graceful"} ${first === a ? 1 : 0}`);

    const stoppedAt = Date.now();
    await first.elector.stop();
    expect(first.working).toBe(false);
    expect(first.stopped).toBe(1);
    expect(entries.some((entry) => entry.message === 'released the lease' && entry.identity === first.elector.identity)).toBe(true);
    await waitFor('the other leads', () => second.elector.isLeader, { timeoutMs: 2000, intervalMs: 20 });
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
    const after = await lease('graceful');
    expect(after.spec?.holderIdentity).toBe(second.elector.identity);
    expect(after.spec?.leaseTransitions).toBe(1);
    if (first === a) expect(await registry.getSingleMetricAsString('photon_leader_election_status')).toContain('photon_leader_election_status{name="graceful"} 0');
  });

  it('a killed leader (no release) is replaced within the lease duration', async () => {
    const a = candidate('crash', 'a');
    await waitFor('a leads', () => a.elector.isLeader, { timeoutMs: 5000 });
    const b = candidate('crash', 'b');
    await sleep(1200); // b has observed a renewing
    expect(b.elector.isLeader).toBe(false);
    const renewTime = Date.parse((await lease('crash')).spec!.renewTime!);
    const killedAt = Date.now();
    await a.elector.stop({ release: false }); // the renew loop just stops; the lease still names a
    expect((await lease('crash')).spec?.holderIdentity).toBe('a');
    await waitFor('b takes over', () => b.elector.isLeader, { timeoutMs: 6000, intervalMs: 20 });
    const tookOver = Date.now();
    // Not before the lease expired (renewTime + 3 s), and within the lease duration of the kill (plus one retry period).
    expect(tookOver).toBeGreaterThanOrEqual(renewTime + TIMING.leaseDurationMs);
    expect(tookOver - killedAt).toBeLessThanOrEqual(TIMING.leaseDurationMs + TIMING.retryPeriodMs * 1.2 + 200);
    const after = await lease('crash');
    expect(after.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });

    // And a third candidate after a graceful stop of b: transitions keep counting.
    const c = candidate('crash', 'c');
    await b.elector.stop();
    await waitFor('c leads', () => c.elector.isLeader, { timeoutMs: 2000 });
    expect((await lease('crash')).spec?.leaseTransitions).toBe(2);
  });

  it("announces a term's annotations on the Lease: kept while it leads, removed by the next holder and on release, others untouched", async () => {
    const KEY = 'example.photoncloud.io/term';
    const a = candidate('announce', 'a', false, [KEY]);
    await waitFor('a leads', () => a.elector.isLeader, { timeoutMs: 5000 });
    // Someone else's annotation on the same Lease survives every write.
    // (A read-modify-write racing the leader's renewals: a 409 is retried.)
    await waitFor('the other annotation to be written', async () => {
      const current = await lease('announce');
      return client.update<Lease>(LeaseResource, { ...current, metadata: { ...current.metadata, annotations: { 'other/key': 'kept' } } }).then(
        () => true,
        (error: unknown) => (isConflict(error) ? false : Promise.reject(error)),
      );
    }, { timeoutMs: 5000, intervalMs: 50 });
    a.elector.setAnnotation(KEY, 'from-a');
    await waitFor('the renewal to write it', async () => (await lease('announce')).metadata.annotations?.[KEY] === 'from-a', { timeoutMs: 3000, intervalMs: 50 });
    expect((await lease('announce')).metadata.annotations?.['other/key']).toBe('kept');

    // A crashed leader's announcement is not the next holder's: its first write removes the key it manages.
    const b = candidate('announce', 'b', false, [KEY]);
    await a.elector.stop({ release: false });
    await waitFor('b takes over', () => b.elector.isLeader, { timeoutMs: 6000, intervalMs: 20 });
    expect((await lease('announce')).metadata.annotations).toEqual({ 'other/key': 'kept' });

    b.elector.setAnnotation(KEY, 'from-b');
    await waitFor('b announces', async () => (await lease('announce')).metadata.annotations?.[KEY] === 'from-b', { timeoutMs: 3000, intervalMs: 50 });
    await b.elector.stop();
    const released = await lease('announce');
    expect(released.spec?.holderIdentity).toBe('');
    expect(released.metadata.annotations).toEqual({ 'other/key': 'kept' });
  });

  it('a leader that cannot renew within renewDeadline steps down', async () => {
    const a = candidate('deadline', 'a');
    await waitFor('a leads', () => a.elector.isLeader, { timeoutMs: 5000 });
    const unreachableAt = Date.now();
    await env.stopServer();
    try {
      await waitFor('a steps down', () => !a.elector.isLeader, { timeoutMs: 5000, intervalMs: 20 });
      const steppedDown = Date.now() - unreachableAt;
      expect(steppedDown).toBeLessThanOrEqual(TIMING.renewDeadlineMs + 600);
      expect(a.working).toBe(false);
      expect(a.stopped).toBe(1);
    } finally {
      await env.startServer();
    }
    // Back as a candidate: it re-acquires its own (now expired) lease.
    await waitFor('a leads again', () => a.elector.isLeader, { timeoutMs: 8000 });
    expect(a.started).toBe(2);
  });

  it('rejects inconsistent timings', () => {
    expect(() => new LeaderElector({ client, name: 'x', leaseDurationMs: 1000, renewDeadlineMs: 2000, onStartedLeading: () => undefined })).toThrow('leaseDurationMs');
    expect(() => new LeaderElector({ client, name: 'x', leaseDurationMs: 3000, renewDeadlineMs: 1000, retryPeriodMs: 1000, onStartedLeading: () => undefined })).toThrow('renewDeadlineMs');
  });
});
