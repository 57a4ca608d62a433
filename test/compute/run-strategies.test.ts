// Run strategies as the node agent applies them, with real QEMU: a crash is QEMU dying (SIGKILL); a guest's own
// poweroff is the test guest powering itself off (user data "poweroff"), which QEMU (-no-shutdown) reports as
// "shutdown". Always restarts after both; RerunOnFailure only after the crash; Manual after neither.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { getVm, guestImages, guestVm, startComputeEnv, waitVmStatus, type ComputeEnv } from '../env/compute.ts';
import { waitFor } from '../env/process.ts';
import { manifest } from '../env/tenants.ts';

const NS = 'strategies';
let env: ComputeEnv;

beforeAll(async () => {
  env = await startComputeEnv();
  await env.startAgent('hv-1');
  await env.namespace(NS);
  kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...guestImages(env, NS)) }));
}, 120_000);

afterAll(async () => {
  await env?.stop();
}, 60_000);

const apply = async (...objects: object[]) => kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...objects) }));

/** Waits for a QEMU other than `pid` to run the VM. */
const restarted = (name: string, pid: number): Promise<VirtualMachine> =>
  waitFor(`${name} running again under a new QEMU`, async () => {
    const vm = await getVm(env, NS, name);
    return vm.status?.runtime?.state === 'Running' && vm.status.runtime.pid !== pid ? vm : undefined;
  }, { timeoutMs: 90_000, intervalMs: 250 });

/** Asserts the VM stays as it is for a few of the agent's resyncs (2 s each): nothing starts it again. */
async function staysPut(name: string, printableStatus: string): Promise<void> {
  const deadline = Date.now() + 6000;
  while (Date.now() < deadline) {
    expect((await getVm(env, NS, name)).status?.printableStatus).toBe(printableStatus);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('run strategies', () => {
  test('Always: started again after a crash and after the guest powers itself off', async () => {
    await apply(guestVm(NS, 'always', { runStrategy: 'Always' }));
    const first = await waitVmStatus(env, NS, 'always', 'Running');
    process.kill(first.status!.runtime!.pid!, 'SIGKILL');
    const second = await restarted('always', first.status!.runtime!.pid!);
    // From now on the guest powers itself off at the end of every boot; Always starts it again each time.
    kubectlOk(await env.api.kubectl(['patch', 'virtualmachine', 'always', '-n', NS, '--type', 'merge', '-p', '{"spec":{"userData":"poweroff\\n"}}']));
    kubectlOk(await env.api.kubectl(['patch', 'virtualmachine', 'always', '-n', NS, '--type', 'merge', '-p', '{"spec":{"runStrategy":"Halted"}}']));
    await waitVmStatus(env, NS, 'always', 'Stopped', 60_000);
    kubectlOk(await env.api.kubectl(['patch', 'virtualmachine', 'always', '-n', NS, '--type', 'merge', '-p', '{"spec":{"runStrategy":"Always"}}']));
    const third = await restarted('always', second.status!.runtime!.pid!);
    await restarted('always', third.status!.runtime!.pid!);
  }, 300_000);

  test('RerunOnFailure: started again after a crash; stays Stopped once the guest powers itself off', async () => {
    await apply(guestVm(NS, 'rerun', { runStrategy: 'RerunOnFailure' }));
    const first = await waitVmStatus(env, NS, 'rerun', 'Running');
    process.kill(first.status!.runtime!.pid!, 'SIGKILL');
    await restarted('rerun', first.status!.runtime!.pid!);

    await apply(guestVm(NS, 'rerun-off', { runStrategy: 'RerunOnFailure', userData: 'poweroff\n' }));
    const stopped = await waitVmStatus(env, NS, 'rerun-off', 'Stopped', 90_000);
    expect(stopped.status!.runtime).toMatchObject({ state: 'Stopped', reason: 'GuestShutdown', message: 'the guest powered off' });
    await staysPut('rerun-off', 'Stopped');
  }, 300_000);

  test('Manual: started once; a crash leaves it Failed, not restarted', async () => {
    await apply(guestVm(NS, 'manual', { runStrategy: 'Manual' }));
    const first = await waitVmStatus(env, NS, 'manual', 'Running');
    process.kill(first.status!.runtime!.pid!, 'SIGKILL');
    const failed = await waitVmStatus(env, NS, 'manual', 'Failed', 60_000);
    expect(failed.status!.runtime).toMatchObject({ state: 'Crashed', reason: 'Crashed' });
    await staysPut('manual', 'Failed');
  }, 180_000);
});
