// Proves the OVN test harness carries real packets: one chassis (userspace datapath), logical switches made
// with ovn-nbctl, network-namespace hosts bound by iface-id. Hosts on one logical switch reach each other
// (ICMP and TCP); a host on another logical switch, even in the same IP subnet, reaches nobody.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import { attachPort, startOvnCentral, startOvnChassis, type AttachedPort, type OvnCentral, type OvnChassis } from '../env/ovn.ts';
import { liveNetns } from '../env/netns.ts';
import { waitFor } from '../env/process.ts';

const PING = ['/usr/bin/ping', '/bin/ping'].find((file) => fs.existsSync(file));

const hosts = {
  p1: { mac: '0a:00:00:00:00:01', ip: '10.77.0.1' },
  p2: { mac: '0a:00:00:00:00:02', ip: '10.77.0.2' },
  p3: { mac: '0a:00:00:00:00:03', ip: '10.77.0.3' },
} as const;

let central: OvnCentral;
let chassis: OvnChassis;
const ports: Record<string, AttachedPort> = {};

beforeAll(async () => {
  central = await startOvnCentral();
  chassis = await startOvnChassis(central, { name: 'chassis-packets' });
  // sw0: p1, p2. sw1: p3 (same IP subnet, different logical switch).
  const lsp = (sw: string, name: keyof typeof hosts) => {
    const address = `${hosts[name].mac} ${hosts[name].ip}`;
    return ['--', 'lsp-add', sw, name, '--', 'lsp-set-addresses', name, address, '--', 'lsp-set-port-security', name, address];
  };
  await central.nbctl('ls-add', 'sw0', ...lsp('sw0', 'p1'), ...lsp('sw0', 'p2'), '--', 'ls-add', 'sw1', ...lsp('sw1', 'p3'));
  for (const name of Object.keys(hosts) as Array<keyof typeof hosts>) {
    ports[name] = await attachPort(chassis, { ifaceId: name, mac: hosts[name].mac, ip: `${hosts[name].ip}/24` });
  }
  await waitFor('p1, p2, p3 bound and up', async () => {
    const up = await central.nbctl('--bare', '--columns=name,up', 'list', 'Logical_Switch_Port');
    const bound = await central.sbctl('--bare', '--columns=logical_port,chassis', 'find', 'Port_Binding', 'type=""');
    return (up.match(/\btrue\b/g) ?? []).length === 3 && bound.trim().split(/\n\s*\n/).every((block) => block.trim().split('\n').length === 2);
  }, { timeoutMs: 20_000, intervalMs: 100 });
});

afterAll(async () => {
  await central?.stop();
  expect(liveNetns()).toEqual([]);
});

/** A TCP round trip from one host to a server in another (node in the namespace; proves checksums are right). */
async function tcpReachable(from: AttachedPort, to: AttachedPort, port: number): Promise<boolean> {
  const server = to.spawn(
    'tcp-echo',
    process.execPath,
    ['-e', `require('net').createServer((s) => s.end('pong')).listen(${port}, '${to.ip}', () => console.log('listening'))`],
  );
  try {
    await waitFor('tcp server', () => server.output().includes('listening'), { timeoutMs: 5000 });
    const client = await from.exec(process.execPath, [
      '-e',
      `const s = require('net').connect(${port}, '${to.ip}'); s.setTimeout(2000, () => process.exit(2));` +
        `s.on('data', (d) => { process.stdout.write(String(d)); process.exit(0); }); s.on('error', () => process.exit(1));`,
    ], { timeoutMs: 5000 });
    return client.code === 0 && client.stdout === 'pong';
  } finally {
    await server.stop(1000);
  }
}

describe('packets through OVN (userspace datapath, netns hosts)', () => {
  it('binds the hosts: ports up in NB, Port_Binding claimed by the chassis', async () => {
    const bindings = await central.sbctl('--bare', '--columns=logical_port', 'find', 'Port_Binding', `chassis=${(await central.sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', `name=${chassis.name}`)).trim()}`);
    expect(bindings.split('\n').map((line) => line.trim()).filter(Boolean).sort()).toEqual(['p1', 'p2', 'p3']);
  });

  it('hosts on one logical switch ping each other', async () => {
    if (!PING) throw new Error('ping (iputils-ping) is not installed');
    const ping = await ports.p1!.exec(PING, ['-c', '1', '-W', '2', hosts.p2.ip]);
    expect(ping.stdout).toMatch(/1 received/);
    expect(ping.code).toBe(0);
    const back = await ports.p2!.exec(PING, ['-c', '1', '-W', '2', hosts.p1.ip]);
    expect(back.code).toBe(0);
  });

  it('carries TCP too (checksums completed by the userspace datapath)', async () => {
    expect(await tcpReachable(ports.p1!, ports.p2!, 7001)).toBe(true);
  });

  it('a host on another logical switch reaches neither', async () => {
    if (!PING) throw new Error('ping (iputils-ping) is not installed');
    for (const target of [hosts.p1.ip, hosts.p2.ip]) {
      const ping = await ports.p3!.exec(PING, ['-c', '1', '-W', '1', target]);
      expect(ping.code).not.toBe(0);
    }
    expect(await tcpReachable(ports.p3!, ports.p1!, 7002)).toBe(false);
  });

  it('ovn-trace shows the logical path (and the drops)', async () => {
    const icmp = (from: keyof typeof hosts, to: keyof typeof hosts, src: string = hosts[from].ip) =>
      `inport == "${from}" && eth.src == ${hosts[from].mac} && eth.dst == ${hosts[to].mac} && ip4.src == ${src} && ip4.dst == ${hosts[to].ip} && ip.ttl == 64 && icmp4.type == 8`;
    // p1 → p2 on sw0: delivered to p2.
    expect(await central.trace('--ct=new', '--minimal', 'sw0', icmp('p1', 'p2'))).toMatch(/output\("p2"\)/);
    const detailed = await central.trace('--ct=new', '--detailed', 'sw0', icmp('p1', 'p2'));
    expect(detailed).toMatch(/ingress\(dp="sw0", inport="p1"\)/);
    expect(detailed).toMatch(/egress\(dp="sw0", inport="p1", outport="p2"\)/);
    // p3 → p1's MAC on sw1: no such destination on sw1, nothing is output.
    expect(await central.trace('--ct=new', '--minimal', 'sw1', icmp('p3', 'p1'))).not.toMatch(/output\(/);
    // A spoofed source address from p1 is dropped by port security.
    const spoofed = await central.trace('--ct=new', '--summary', 'sw0', icmp('p1', 'p2', '10.77.0.99'));
    expect(spoofed).toMatch(/check_in_port_sec\(\);\s+next;\s+drop;/);
    expect(spoofed).not.toMatch(/output/);
  });

  it('routes between switches through a logical router (hosts use their default gateway)', async () => {
    if (!PING) throw new Error('ping (iputils-ping) is not installed');
    const routerPort = (sw: string, lrp: string, mac: string, cidr: string) => [
      '--', 'lrp-add', 'lr0', lrp, mac, cidr,
      '--', 'lsp-add', sw, `${sw}-lr0`, '--', 'lsp-set-type', `${sw}-lr0`, 'router', '--', 'lsp-set-addresses', `${sw}-lr0`, 'router',
      '--', 'lsp-set-options', `${sw}-lr0`, `router-port=${lrp}`,
    ];
    await central.nbctl(
      'lr-add', 'lr0',
      ...routerPort('sw0', 'lrp-sw0', '0a:00:00:00:ff:00', '10.77.0.254/24'),
      '--', 'ls-add', 'sw2',
      ...routerPort('sw2', 'lrp-sw2', '0a:00:00:00:ff:02', '10.78.0.254/24'),
      '--', 'lsp-add', 'sw2', 'p4', '--', 'lsp-set-addresses', 'p4', '0a:00:00:00:00:04 10.78.0.4',
    );
    const p4 = await attachPort(chassis, { ifaceId: 'p4', mac: '0a:00:00:00:00:04', ip: '10.78.0.4/24', gateway: '10.78.0.254' });
    expect((await p4.exec('ip', ['route', 'show', 'default'])).stdout).toMatch(/default via 10\.78\.0\.254 dev eth0/);
    expect((await ports.p1!.exec('ip', ['route', 'add', 'default', 'via', '10.77.0.254'])).code).toBe(0);
    await waitFor('p4 up', async () => (await central.nbctl('--bare', '--columns=up', 'list', 'Logical_Switch_Port', 'p4')).trim() === 'true', { timeoutMs: 10_000 });
    const ping = await ports.p1!.exec(PING, ['-c', '1', '-W', '2', '10.78.0.4']);
    expect(ping.stdout).toMatch(/ttl=63/); // one router hop
    expect(ping.code).toBe(0);
    const routed = await central.trace(
      '--ct=new', '--ct=new', '--minimal', 'sw0',
      `inport == "p1" && eth.src == ${hosts.p1.mac} && eth.dst == 0a:00:00:00:ff:00 && ip4.src == ${hosts.p1.ip} && ip4.dst == 10.78.0.4 && ip.ttl == 64 && icmp4.type == 8`,
    );
    expect(routed).toMatch(/ip\.ttl--;/);
    expect(routed).toMatch(/output\("p4"\)/);
    await p4.remove();
  });

  it('removing a host deletes its namespace and OVS port', async () => {
    const p3 = ports.p3!;
    await p3.remove();
    expect(liveNetns()).not.toContain(p3.netns.name);
    expect(await chassis.vsctl('list-ports', 'br-int')).not.toContain(p3.ovsPort);
    await waitFor('p3 down in NB', async () => (await central.nbctl('--bare', '--columns=up', 'list', 'Logical_Switch_Port', 'p3')).trim() === 'false');
  });
});
