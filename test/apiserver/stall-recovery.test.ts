// Class 11 of the hardening issue: one stall or crash must not take the control plane down. The all-in-one
// runs as an operator runs it (`photon all-in-one`); its components are found as the launcher's children
// in /proc. A killed controller manager or API server is restarted by the supervisor while the other keeps
// running; an API server stalled (SIGSTOP) for longer than the Lease duration makes the controller manager
// step down and campaign again in-process, never exit. "Works" is checked end to end: the garbage
// collector deletes a dependent whose owner was deleted.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { probeReadyz } from '../env/apiserver-process.ts';
import { ApiClient } from '../env/http.ts';
import { freePorts } from '../env/ports.ts';
import { startProcess, waitFor, WaitAborted, type ManagedProcess } from '../env/process.ts';

const PHOTON = path.join(REPOSITORY_ROOT, 'cli', 'photon.ts');
const APISERVER_MAIN = 'apiserver/main.ts';
const CONTROLLER_MANAGER_MAIN = 'controllers/main.ts';
/** The controller manager's default Lease duration (controllers/runtime/leader-election.ts). */
const LEASE_DURATION_MS = 15_000;

/** The live children of a process whose command line mentions module (via /proc, no shell). */
function childrenRunning(parentPid: number, module: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command name: state, ppid, …
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' || Number(ppid) !== parentPid) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').some((arg) => arg.endsWith(module))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the all-in-one survives stalls and crashes of its components', () => {
  let home: string;
  let url: string;
  let server: ManagedProcess;
  let api: ApiClient;
  let caCertificatePem: string;
  /** Every component pid seen, so that afterAll can make sure none outlives the test. */
  const seen = new Set<number>();

  /** The one running instance of a component (fails fast if the launcher itself has died). */
  const componentPid = (module: string) =>
    waitFor(`one ${module} running under the launcher`, () => {
      if (server.child.exitCode !== null || server.child.signalCode !== null) throw new WaitAborted(`photon exited:\n${server.output().slice(-5000)}`);
      const pids = childrenRunning(server.child.pid!, module);
      if (pids.length > 1) throw new Error(`${pids.length} instances of ${module}: ${pids.join(', ')}`);
      if (pids[0]) seen.add(pids[0]);
      return pids[0];
    }, { timeoutMs: 60_000, intervalMs: 100 });

  const readyz = async () => {
    try {
      return (await api.request('/readyz')).status === 200;
    } catch {
      return false;
    }
  };

  /** The garbage collector (so: the controller manager, leading, with synced informers) works. */
  let round = 0;
  const garbageCollectionWorks = async (timeoutMs = 120_000) => {
    round++;
    const configMaps = '/api/v1/namespaces/default/configmaps';
    const owner = await api.request(configMaps, { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `owner-${round}` } }) });
    expect(owner.status).toBe(201);
    const dependent = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `dependent-${round}`, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: `owner-${round}`, uid: owner.json().metadata.uid }] } };
    expect((await api.request(configMaps, { method: 'POST', body: JSON.stringify(dependent) })).status).toBe(201);
    expect((await api.request(`${configMaps}/owner-${round}`, { method: 'DELETE' })).status).toBe(200);
    await waitFor(`the garbage collector to delete dependent-${round}`, async () => (await api.request(`${configMaps}/dependent-${round}`)).status === 404, { timeoutMs, intervalMs: 500 });
  };

  beforeAll(async () => {
    home = await fsp.mkdtemp(path.join(os.tmpdir(), 'photon-stall-'));
    const [port, nbPort, sbPort, dnsPort] = await freePorts(4);
    url = `https://127.0.0.1:${port}`;
    // Free OVN and DNS ports: the all-in-one refuses taken ones (the defaults, 6641/6642 and 10053, may be in use
    // on this machine — by another test file's all-in-one, too).
    const ovnPorts = ['--ovn-nb-port', String(nbPort), '--ovn-sb-port', String(sbPort), '--dns-port', String(dnsPort)];
    server = startProcess('photon all-in-one', process.execPath, ['--import', 'tsx', PHOTON, 'all-in-one', '--secure-port', String(port), ...ovnPorts], {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, PHOTON_HOME: home, PHOTON_LOG_FORMAT: 'text', PHOTON_LOG_LEVEL: 'info' },
    });
    await waitFor('the all-in-one to serve', () => {
      if (server.child.exitCode !== null) throw new WaitAborted(`photon exited early:\n${server.output()}`);
      return server.output().includes('is serving');
    }, { timeoutMs: 90_000 });
    caCertificatePem = await fsp.readFile(path.join(home, 'pki', 'ca.crt'), 'utf8');
    const adminToken = /token:\s*(\S+)/.exec(await fsp.readFile(path.join(home, 'admin.kubeconfig'), 'utf8'))![1];
    api = new ApiClient({ url, server: { adminToken, caCertificatePem } });
    await componentPid(APISERVER_MAIN);
    await componentPid(CONTROLLER_MANAGER_MAIN);
    await garbageCollectionWorks();
  }, 240_000);

  afterAll(async () => {
    api?.close();
    // A stopped (SIGSTOP) child cannot act on SIGTERM: continue everything first.
    for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGCONT');
    await server?.stop(30_000);
    for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (home) await fsp.rm(home, { recursive: true, force: true });
  }, 60_000);

  it('restarts a killed controller manager while the API server keeps serving', async () => {
    const apiserver = await componentPid(APISERVER_MAIN);
    const killed = await componentPid(CONTROLLER_MANAGER_MAIN);
    const probe = probeReadyz({ url, caCertificatePem }, 250);
    try {
      process.kill(killed, 'SIGKILL');
      await waitFor('the supervisor to report the crash', () => server.output().includes('controller-manager was killed by SIGKILL; restarting it in'), { timeoutMs: 30_000 });
      const restarted = await waitFor('a new controller manager', async () => {
        const pid = await componentPid(CONTROLLER_MANAGER_MAIN);
        return pid !== killed && pid;
      }, { timeoutMs: 60_000, intervalMs: 200 });
      expect(alive(killed)).toBe(false);
      // The new manager takes over once the killed one's Lease has expired, and collects garbage.
      await garbageCollectionWorks();
      expect(await componentPid(CONTROLLER_MANAGER_MAIN)).toBe(restarted);
    } finally {
      const report = await probe.stop();
      expect(report.failures).toBe(0);
    }
    expect(await componentPid(APISERVER_MAIN)).toBe(apiserver);
  }, 240_000);

  it('restarts a killed API server; the controller manager rides it out and keeps working', async () => {
    const killed = await componentPid(APISERVER_MAIN);
    const controllerManager = await componentPid(CONTROLLER_MANAGER_MAIN);
    process.kill(killed, 'SIGKILL');
    await waitFor('the supervisor to report the crash', () => server.output().includes('apiserver was killed by SIGKILL; restarting it in'), { timeoutMs: 30_000 });
    const restarted = await waitFor('a new API server', async () => {
      const pid = await componentPid(APISERVER_MAIN);
      return pid !== killed && pid;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    await waitFor('the restarted API server to be ready', readyz, { timeoutMs: 90_000, intervalMs: 250 });
    await garbageCollectionWorks();
    expect(await componentPid(APISERVER_MAIN)).toBe(restarted);
    expect(await componentPid(CONTROLLER_MANAGER_MAIN)).toBe(controllerManager);
  }, 240_000);

  it('a controller manager whose API server stalls past the Lease duration campaigns again instead of exiting', async () => {
    const apiserver = await componentPid(APISERVER_MAIN);
    const controllerManager = await componentPid(CONTROLLER_MANAGER_MAIN);
    const lostBefore = server.output().split('leadership lost; controllers stopped, campaigning again').length;
    const stoppedAt = Date.now();
    process.kill(apiserver, 'SIGSTOP');
    try {
      // Renewals fail for the renew deadline: the manager stops its controllers (and says so) but stays.
      await waitFor('the controller manager to step down', () => server.output().split('leadership lost; controllers stopped, campaigning again').length > lostBefore, { timeoutMs: LEASE_DURATION_MS + 30_000, intervalMs: 200 });
      // Keep the stall going past the Lease duration, as in the incident.
      await waitFor('the stall to outlast the Lease', () => Date.now() - stoppedAt > LEASE_DURATION_MS + 2000, { timeoutMs: LEASE_DURATION_MS + 30_000, intervalMs: 200 });
      expect(alive(controllerManager)).toBe(true);
    } finally {
      process.kill(apiserver, 'SIGCONT');
    }
    await waitFor('the API server to be ready after the stall', readyz, { timeoutMs: 60_000, intervalMs: 250 });
    await waitFor('the controller manager to lead again', () => {
      const output = server.output();
      const lost = output.lastIndexOf('leadership lost; controllers stopped, campaigning again');
      return lost >= 0 && output.indexOf('became leader', lost) > lost;
    }, { timeoutMs: 90_000, intervalMs: 250 });
    await garbageCollectionWorks();
    // Same processes throughout: nothing exited, nothing was restarted by the supervisor.
    expect(await componentPid(CONTROLLER_MANAGER_MAIN)).toBe(controllerManager);
    expect(await componentPid(APISERVER_MAIN)).toBe(apiserver);
    const sinceStall = server.output().slice(server.output().lastIndexOf('leadership lost; controllers stopped'));
    expect(sinceStall).not.toContain('restarting it in');
  }, 300_000);
});
