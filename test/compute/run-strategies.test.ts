// Run strategies as the node agent applies them, with real QEMU: a crash is QEMU dying (SIGKILL), a guest's
// own poweroff is an ACPI power-off it acts on (QMP system_powerdown sent straight to its QEMU, behind the
// control plane's back — as if someone ran `poweroff` inside it). Always restarts after both; RerunOnFailure
// only after the crash; Manual after neither.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { agentPaths } from '../../agents/node/agent.ts';
import { QmpClient } from '../../agents/qemu/index.ts';
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { getVm, guestImages, guestVm, startComputeEnv, waitVmStatus, type ComputeEnv, type TestAgent } from '../env/compute.ts';
import { waitFor } from '../env/process.ts';
import { manifest } from '../env/tenants.ts';

const NS = 'strategies';
let env: ComputeEnv;
let agent: TestAgent;

beforeAll(async () => {
  env = await startComputeEnv();
  agent = await env.startAgent('hv-1');
  await env.namespace(NS);
  kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...guestImages(env, NS), ...['always', 'rerun', 'manual'].map((name) => guestVm(NS, name, { runStrategy: { always: 'Always', rerun: 'RerunOnFailure', manual: 'Manual' }[name] }))) }));
}, 120_000);

afterAll(async () => {
  await env?.stop();
}, 60_000);

const running = async (name: string): Promise<VirtualMachine> => waitVmStatus(env, NS, name, 'Running');

/** The guest powers itself off: an ACPI power-off its QEMU delivers, the agent not involved. */
async function guestPowersOff(vm: VirtualMachine): Promise<void> {
  await waitFor(`${vm.metadata.name}'s guest ready`, () => fs.readFileSync(path.join(agentPaths(agent.stateDir).qemu, vm.metadata.uid!, 'console.log'), 'utf8').includes('photon-guest: ready'), { timeoutMs: 60_000, intervalMs: 200 });
  const qmp = await QmpClient.connect(path.join(agentPaths(agent.stateDir).qemu, vm.metadata.uid!, 'qmp.sock'));
  try {
    await qmp.execute('system_powerdown');
  } finally {
    qmp.close();
  }
}

/** Waits for a new QEMU (another pid) to run the VM. */
const restarted = (name: string, pid: number) =>
  waitFor(`${name} running again under a new QEMU`, async () => {
    const vm = await getVm(env, NS, name);
    return vm.status?.printableStatus === 'Running' && vm.status.runtime?.pid !== pid ? vm : undefined;
  }, { timeoutMs: 90_000, intervalMs: 250 });

describe('run strategies', () => {
  test('Always: restarted after a crash and after the guest powers off', async () => {
    const first = await running('always');
    process.kill(first.status!.runtime!.pid!, 'SIGKILL');
    const second = await restarted('always', first.status!.runtime!.pid!);
    await guestPowersOff(second);
    await restarted('always', second.status!.runtime!.pid!);
  }, 240_000);

  test('RerunOnFailure: restarted after a crash, stays Stopped after the guest powers off', async () => {
    const first = await running('rerun');
    process.kill(first.status!.runtime!.pid!, 'SIGKILL');
    const second = await restarted('rerun', first.status!.runtime!.pid!);
    await guestPowersOff(second);
    const stopped = await waitVmStatus(env, NS, 'rerun', 'Stopped', 60_000);
    expect(stopped.status!.runtime).toMatchObject({ state: 'Stopped', reason: 'GuestShutdown' });
    // … and stays so over several resyncs of the agent.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect((await getVm(env, NS, 'rerun')).status).toMatchObject({ printableStatus: 'Stopped', runtime: { state: 'Stopped' } });
  }, 240_000);

  test('Manual: started once; a crash leaves it Failed, not restarted', async () => {
    const first = await running('manual');
    process.kill(first.status!.runtime!.pid!, 'SIGKILL');
    const failed = await waitVmStatus(env, NS, 'manual', 'Failed', 60_000);
    expect(failed.status!.runtime).toMatchObject({ state: 'Crashed', reason: 'Crashed' });
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect((await getVm(env, NS, 'manual')).status!.printableStatus).toBe('Failed');
  }, 180_000);
});
