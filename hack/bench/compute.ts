// Compute benchmark: how long a VirtualMachine takes from `create` to QEMU running (QMP "running", as the
// agent reports it in status.runtime) and to the guest reporting its DHCP address on its console, p50 and p95
// over N VMs created one after another — beside a bare `qemu-system-x86_64` start of the same guest (same
// kernel, initramfs, memory, TCG; user-mode networking's DHCP) measured in the same run. The goal is the
// control plane adding under a second to the bare start. Everything is real: API server, OVN, controllers and
// a `photon agent` process on a userspace chassis (test/env/compute.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { VirtualMachineResource, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { consoleOf, guestImages, guestVm, startComputeEnv, type ComputeEnv } from '../../test/env/compute.ts';
import { waitFor } from '../../test/env/process.ts';
import { manifest } from '../../test/env/tenants.ts';
import { fmt, percentile } from './load.ts';
import { record } from './results.ts';
import { inProcessWrites, reportWrites, writesBetween } from './writes.ts';
import { waitForAnnouncedFinalizers } from '../../test/env/announced-finalizers.ts';

const NS = 'bench';

/** Milliseconds from start until QMP says running, and until the guest printed its address. */
interface Timing {
  running: number;
  address: number;
}

/** A bare QEMU of the same guest: no API, no agent, no OVN. */
async function bareStart(guest: ComputeEnv['guest'], dir: string, index: number): Promise<Timing> {
  const qmp = path.join(dir, `bare-${index}.qmp`);
  const started = performance.now();
  const child = spawn('qemu-system-x86_64', [
    '-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'pc', '-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', '256M',
    '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', 'console=ttyS0 panic=-1',
    '-nic', 'user,model=virtio-net-pci', '-serial', 'stdio', '-qmp', `unix:${qmp},server=on,wait=off`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let address: number | undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (address === undefined && /photon-guest: ip=\d/.test(output)) address = performance.now() - started;
  });
  try {
    const running = await waitFor('bare QEMU running', () => qmpRunning(qmp).then((yes) => (yes ? performance.now() - started : undefined)), { timeoutMs: 30_000, intervalMs: 10 });
    await waitFor('bare guest address', () => address, { timeoutMs: 60_000, intervalMs: 20 });
    return { running, address: address! };
  } finally {
    child.kill('SIGKILL');
    await fs.rm(qmp, { force: true });
  }
}

/** One QMP exchange: capabilities, then query-status; true when running. */
function qmpRunning(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    let buffer = '';
    socket.on('error', () => resolve(false));
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      if (buffer.includes('"QMP"') && !buffer.includes('"return"')) socket.write('{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n');
      const status = /"status":\s*"([a-z-]+)"/.exec(buffer);
      if (status) {
        socket.destroy();
        resolve(status[1] === 'running');
      }
    });
    setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 2000);
  });
}

async function platformStart(env: ComputeEnv, name: string): Promise<Timing> {
  const started = performance.now();
  await env.client.create(VirtualMachineResource, guestVm(NS, name, { networks: [{ name: 'eth0', subnetRef: 'app' }] }) as KubeObject);
  let running: number | undefined;
  const address = await waitFor(`${name} reports its address`, async () => {
    if (running === undefined) {
      const vm = await env.client.get<VirtualMachine>(VirtualMachineResource, name, { namespace: NS });
      if (vm.status?.runtime?.state === 'Running' && vm.status.runtime.node === vm.status.nodeName) running = performance.now() - started;
      return undefined;
    }
    return /photon-guest: ip=\d/.test(await consoleOf(env, NS, name)) ? performance.now() - started : undefined;
  }, { timeoutMs: 120_000, intervalMs: 25 });
  await env.client.delete(VirtualMachineResource, name, { namespace: NS });
  await waitFor(`${name} deleted`, () => env.client.get(VirtualMachineResource, name, { namespace: NS }).then(() => false, () => true), { timeoutMs: 60_000, intervalMs: 100 });
  return { running: running!, address };
}

const summary = (label: string, values: number[]) => `${label} p50 ${fmt(percentile(values, 50) / 1000, 2)} s, p95 ${fmt(percentile(values, 95) / 1000, 2)} s`;

export async function benchCompute(count: number): Promise<void> {
  console.log(`\n## VirtualMachine create → running and → guest address (${count} VMs one after another, TCG), against a bare QEMU start of the same guest`);
  const env = await startComputeEnv({ leaderElect: true });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-bench-'));
  try {
    await env.startAgent('bench-hv', { cpu: 16, memory: '8Gi' });
    await env.namespace(NS);
    const network = [
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } },
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'app', namespace: NS }, spec: { vpcRef: 'main', cidr: '10.0.0.0/20' } },
    ];
    const applied = await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...guestImages(env, NS), ...network) });
    if (applied.code !== 0) throw new Error(applied.stderr);
    // One warm-up VM each way: the image cache, page cache and JIT, which production nodes have too.
    await platformStart(env, 'warmup');
    await bareStart(env.guest, dir, -1);
    const bare: Timing[] = [];
    const platform: Timing[] = [];
    await waitForAnnouncedFinalizers(env.client, ['virtualmachines.compute.photoncloud.io']);
    const writes = inProcessWrites(env.api.server);
    const writesBefore = await writes();
    for (let index = 0; index < count; index++) {
      bare.push(await bareStart(env.guest, dir, index));
      platform.push(await platformStart(env, `vm-${index}`));
    }
    // Each VM's whole life: create → scheduled → Running with an address → deleted and gone.
    reportWrites('VirtualMachine', 'virtualmachines', count, writesBetween(writesBefore, await writes()));
    const bareRunning = bare.map((timing) => timing.running);
    const bareAddress = bare.map((timing) => timing.address);
    const apiRunning = platform.map((timing) => timing.running);
    const apiAddress = platform.map((timing) => timing.address);
    console.log(`bare QEMU:    ${summary('running', bareRunning)}; ${summary('address', bareAddress)}`);
    console.log(`through API:  ${summary('running', apiRunning)}; ${summary('address', apiAddress)}`);
    record('compute', 'runningP50Ms', percentile(apiRunning, 50));
    record('compute', 'bareRunningP50Ms', percentile(bareRunning, 50));
    record('compute', 'addressP50Ms', percentile(apiAddress, 50));
    console.log(`added by the control plane (p50): running +${fmt((percentile(apiRunning, 50) - percentile(bareRunning, 50)) / 1000)} s, address +${fmt((percentile(apiAddress, 50) - percentile(bareAddress, 50)) / 1000)} s (goal: < 1 s)`);
  } finally {
    await env.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const count = Number(process.argv.find((arg) => /^\d+$/.test(arg)) ?? 20);
  benchCompute(count).then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
