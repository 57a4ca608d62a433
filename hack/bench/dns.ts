// DNS benchmark, everything real (API server, etcd, PowerDNS, OVN, controllers; QEMU for the VM part):
//   - records per second from a Zone change to the last changed record answered by dig, for a change of N
//     records at once, against the same N records PATCHed straight into PowerDNS's API (the baseline: what the
//     server itself takes);
//   - one record changed: p50/p95 from the API write to dig's answer, against the same straight PATCH;
//   - a VirtualMachine reported Running → its automatic name answered by dig, p50/p95.
import { ZoneResource, type Zone } from '../../apis/dns/v1alpha1/index.ts';
import { COMPUTE_CONTROLLERS, guestImages, guestVm, startComputeEnv, waitVmStatus } from '../../test/env/compute.ts';
import { startTestPowerDns, type TestPowerDns } from '../../test/env/dns.ts';
import { waitFor } from '../../test/env/process.ts';
import { manifest } from '../../test/env/tenants.ts';
import { namespace, startDnsEnv, waitZone, zone, type DnsEnv } from '../../test/dns/harness.ts';
import { fmt, percentile } from './load.ts';
import { record } from './results.ts';

const summary = (values: number[]) => `p50 ${fmt(percentile(values, 50))} ms, p95 ${fmt(percentile(values, 95))} ms`;

/** Polls dig until `name` answers `value`; resolves with the milliseconds since `since`. */
async function answered(pdns: TestPowerDns, name: string, value: string, since: number): Promise<number> {
  await waitFor(`${name} → ${value}`, async () => (await pdns.dig(name, 'A')).join('\n') === value, { timeoutMs: 60_000, intervalMs: 5 });
  return performance.now() - since;
}

const records = (count: number, octet: number) => Array.from({ length: count }, (_, index) => ({ name: `h${index}`, type: 'A', values: [`10.${octet}.${Math.floor(index / 250)}.${(index % 250) + 1}`] }));

async function patchPowerDns(env: DnsEnv, domain: string, sets: ReturnType<typeof records>): Promise<void> {
  const response = await env.pdns.api('PATCH', `/zones/${domain}`, {
    rrsets: sets.map((set) => ({ name: `${set.name}.${domain}`, type: 'A', ttl: 300, changetype: 'REPLACE', records: set.values.map((content) => ({ content, disabled: false })) })),
  });
  if (response.status !== 204) throw new Error(`PATCH ${domain}: ${response.status} ${await response.text()}`);
}

async function zoneChanges(count: number, updates: number): Promise<void> {
  console.log(`\n## Zone changes answered by dig (PowerDNS): ${count} records at once, and ${updates} single-record updates`);
  const env = await startDnsEnv({ controllers: ['zone'] });
  try {
    await namespace(env, 'bench');
    // The baseline zone, served by PowerDNS without PhotonCloud (created through PowerDNS's own API).
    const created = await env.pdns.api('POST', '/zones', { name: 'raw.bench.', kind: 'Native', nameservers: ['ns1.photon.test.'], soa_edit_api: 'INCREASE' });
    if (created.status !== 201) throw new Error(`baseline zone: ${created.status}`);
    await env.client.create(ZoneResource, zone('bench', 'bulk', { domain: 'api.bench.', records: records(count, 1) }) as unknown as Zone);
    await waitZone(env, 'bench', 'bulk', 'True', undefined, 120_000);
    const last = `h${count - 1}`;

    let started = performance.now();
    await patchPowerDns(env, 'raw.bench.', records(count, 2));
    const rawMs = await answered(env.pdns, `${last}.raw.bench`, records(count, 2)[count - 1]!.values[0]!, started);
    started = performance.now();
    await env.client.patch(ZoneResource, 'bulk', { spec: { records: records(count, 2) } }, { namespace: 'bench' });
    const apiMs = await answered(env.pdns, `${last}.api.bench`, records(count, 2)[count - 1]!.values[0]!, started);
    console.log(`PowerDNS API alone: ${fmt(count / (rawMs / 1000))} records/s (${fmt(rawMs)} ms for ${count})`);
    console.log(`through a Zone:     ${fmt(count / (apiMs / 1000))} records/s (${fmt(apiMs)} ms for ${count}); ratio ${fmt(rawMs / apiMs, 2)}`);
    record('dns', 'zoneRecordsPerSecond', count / (apiMs / 1000));
    record('dns', 'pdnsRecordsPerSecond', count / (rawMs / 1000));

    await env.client.create(ZoneResource, zone('bench', 'small', { domain: 'small.bench.', records: [{ name: 'one', type: 'A', values: ['10.3.0.250'] }] }) as unknown as Zone);
    await waitZone(env, 'bench', 'small', 'True');
    const raw: number[] = [];
    const api: number[] = [];
    const one = (index: number, octet: number) => [{ name: 'one', type: 'A', values: [`10.${octet}.0.${index + 1}`] }];
    for (let index = 0; index < updates; index++) {
      started = performance.now();
      await patchPowerDns(env, 'raw.bench.', one(index, 3));
      raw.push(await answered(env.pdns, 'one.raw.bench', `10.3.0.${index + 1}`, started));
      started = performance.now();
      await env.client.patch(ZoneResource, 'small', { spec: { records: one(index, 3) } }, { namespace: 'bench' });
      api.push(await answered(env.pdns, 'one.small.bench', `10.3.0.${index + 1}`, started));
    }
    console.log(`one record, PowerDNS API alone: ${summary(raw)}`);
    console.log(`one record, through a Zone:     ${summary(api)} (goal: answered within 2 s)`);
  } finally {
    await env.stop();
  }
}

async function vmNames(count: number): Promise<void> {
  console.log(`\n## VirtualMachine Running → its name answered by dig (${count} VMs, TCG)`);
  const pdns = await startTestPowerDns();
  const env = await startComputeEnv({ controllers: [...COMPUTE_CONTROLLERS, 'zone'], dns: { ...pdns.options, nameservers: ['ns1.photon.test.'] } });
  try {
    await env.startAgent('hv-1', { cpu: 64, memory: '32Gi' });
    await env.namespace('bench');
    const network = [
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: 'bench' }, spec: { cidrBlocks: ['10.0.0.0/16'] } },
      { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'app', namespace: 'bench' }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24' } },
      { apiVersion: 'dns.photoncloud.io/v1alpha1', kind: 'Zone', metadata: { name: 'public', namespace: 'bench' }, spec: { domain: 'vms.bench.', autoRecords: { virtualMachines: true } } },
    ];
    const applied = await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...guestImages(env, 'bench'), ...network) });
    if (applied.code !== 0) throw new Error(applied.stderr);
    const delays: number[] = [];
    for (let index = 0; index < count; index++) {
      const name = `vm-${index}`;
      const created = await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(guestVm('bench', name, { networks: [{ name: 'eth0', subnetRef: 'app' }] })) });
      if (created.code !== 0) throw new Error(created.stderr);
      const vm = await waitVmStatus(env, 'bench', name, 'Running');
      const runningAt = performance.now();
      delays.push(await answered(pdns, `${name}.vms.bench`, vm.status!.interfaces![0]!.ipAddress!, runningAt));
    }
    console.log(`Running seen → name answered: ${summary(delays)} (polled every 100 ms for Running, 5 ms for the answer)`);
  } finally {
    await env.stop();
    await pdns.stop();
  }
}

export async function benchDns(options: { records: number; updates: number; vms: number }): Promise<void> {
  await zoneChanges(options.records, options.updates);
  await vmNames(options.vms);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  benchDns(quick ? { records: 200, updates: 10, vms: 2 } : { records: 1000, updates: 30, vms: 5 }).then(() => process.exit(0), (error) => {
    console.error(error);
    process.exit(1);
  });
}
