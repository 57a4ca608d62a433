// Layer-4 load balancing on real OVN with netns hosts: a VIP allocated from the subnet through the Ports'
// IPAM, spread over three backends for a client in another subnet of the VPC, health checks that take a
// stopped backend out of rotation and bring it back, tenant isolation, backends by selector, refusals, and
// deletion that removes every OVN row and frees the VIP.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AttachedPort } from '../env/ovn.ts';
import { waitFor, type ManagedProcess } from '../env/process.ts';
import { VirtualMachineResource } from '../../apis/compute/v1alpha1/index.ts';
import { LoadBalancerResource } from '../../apis/lb/v1alpha1/index.ts';
import { PortResource, SubnetResource } from '../../apis/network/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { create, namespace, readyCondition, waitReady, waitReason, type NetworkEnv } from '../network/harness.ts';
import { condition, connect, createLb, getLb, host, sample, startLbEnv, tcpServer, waitLb, type LoadBalancerObject } from './harness.ts';

describe('LoadBalancer on OVN (layer 4)', () => {
  let env: NetworkEnv;
  const hosts: Record<string, AttachedPort> = {};
  const servers: Record<string, ManagedProcess> = {};
  let vip = '';

  async function network(ns: string): Promise<void> {
    await namespace(env, ns);
    await create(env, 'Vpc', ns, 'main', { cidrBlocks: ['10.0.0.0/16'] });
    await create(env, 'Subnet', ns, 'a', { vpcRef: 'main', cidr: '10.0.1.0/24' });
    await create(env, 'Subnet', ns, 'b', { vpcRef: 'main', cidr: '10.0.2.0/24' });
  }

  beforeAll(async () => {
    env = await startLbEnv();
    await network('red');
    await network('blue');
    for (const [name, ip] of [['web-1', '10.0.1.10'], ['web-2', '10.0.1.11'], ['web-3', '10.0.1.12']]) {
      hosts[name] = await host(env, 'red', name, 'a', ip, '10.0.1.1');
      servers[name] = await tcpServer(hosts[name], 8080, name);
    }
    hosts.client = await host(env, 'red', 'client', 'b', '10.0.2.10', '10.0.2.1');
    // Blue has the same addresses: its client is 10.0.2.10 too, and a server on what is red's VIP range.
    hosts.blueClient = await host(env, 'blue', 'client', 'b', '10.0.2.10', '10.0.2.1');
    await waitFor('red client reaches web-1', async () => (await connect(hosts.client, '10.0.1.10', 8080)) === 'web-1', { timeoutMs: 30_000, intervalMs: 500 });
  }, 180_000);
  afterAll(async () => {
    await env?.stop();
  });

  it('allocates a VIP from the subnet and spreads connections over every backend', async () => {
    await createLb(env, 'red', 'web', { subnetRef: 'a', listeners: [{ name: 'app', port: 80, targetPort: 8080 }], backends: { portRefs: ['web-1', 'web-2', 'web-3'] }, healthCheck: { intervalSeconds: 1, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1 } });
    const lb = await waitLb(env, 'red', 'web', 'Ready with 3 healthy backends', (object) => condition(object, 'Ready')?.status === 'True' && object.status?.healthyBackendCount === 3, 60_000);
    vip = lb.status!.vipAddress!;
    // The lowest free address of the subnet (the Ports hold .10–.12, the gateway .1).
    expect(vip).toBe('10.0.1.2');
    expect(lb.status!.backendCount).toBe(3);
    expect(lb.status!.backends!.map((backend) => [backend.name, backend.address, backend.port, backend.health])).toEqual([['web-1', '10.0.1.10', 8080, 'online'], ['web-2', '10.0.1.11', 8080, 'online'], ['web-3', '10.0.1.12', 8080, 'online']]);
    expect(lb.status!.listeners).toEqual([{ name: 'app', protocol: 'TCP', port: 80, state: 'Active' }]);
    expect(lb.status!.healthCheckSourceAddresses).toEqual([{ subnetRef: 'a', address: '10.0.1.3' }]);
    expect(condition(lb, 'Degraded')?.status).toBe('False');
    const seen = new Set<string | undefined>();
    await waitFor('all three backends answer through the VIP', async () => {
      for (const answer of await sample(hosts.client, vip, 80, 6)) seen.add(answer);
      return ['web-1', 'web-2', 'web-3'].every((name) => seen.has(name));
    }, { timeoutMs: 60_000, intervalMs: 0 });
    expect(seen.has(undefined)).toBe(false);
    // A client on the VIP's own subnet and a backend itself (hairpin) reach it too.
    expect(['web-1', 'web-2', 'web-3']).toContain(await connect(hosts['web-1'], vip, 80));
  }, 120_000);

  it('reserves the VIP and the health-check source: no Port can take them', async () => {
    for (const [name, ip] of [['takes-vip', vip], ['takes-source', '10.0.1.3']]) {
      await create(env, 'Port', 'red', name, { subnetRef: 'a', ipAddress: ip });
      const port = await waitReason(env, 'Port', 'red', name, 'IPAddressConflict');
      expect(readyCondition(port)?.message).toContain('LoadBalancer web');
    }
  });

  it('takes a stopped backend out of rotation within interval × threshold and brings it back', async () => {
    await servers['web-2'].stop(1000);
    const stopped = Date.now();
    const degraded = await waitLb(env, 'red', 'web', 'web-2 offline', (lb) => lb.status?.backends?.find((backend) => backend.name === 'web-2')?.health === 'offline', 20_000);
    // interval 1 s × failureThreshold 2, plus the time to notice: well inside 10 s.
    expect(Date.now() - stopped).toBeLessThan(10_000);
    expect(degraded.status!.healthyBackendCount).toBe(2);
    expect(condition(degraded, 'Degraded')).toMatchObject({ status: 'True', reason: 'BackendsOffline' });
    expect(condition(degraded, 'Degraded')?.message).toContain('web-2');
    const answers = await sample(hosts.client, vip, 80, 12);
    expect(answers.filter((answer) => answer === undefined)).toEqual([]);
    expect(answers).not.toContain('web-2');
    servers['web-2'] = await tcpServer(hosts['web-2'], 8080, 'web-2');
    const healed = await waitLb(env, 'red', 'web', 'web-2 back online', (lb) => lb.status?.healthyBackendCount === 3, 20_000);
    expect(condition(healed, 'Degraded')?.status).toBe('False');
    const back = new Set<string | undefined>();
    await waitFor('web-2 answers again', async () => (back.add(await connect(hosts.client, vip, 80)), back.has('web-2')), { timeoutMs: 30_000, intervalMs: 0 });
  }, 90_000);

  it('says NoHealthyBackends when every backend fails, and rejects at once', async () => {
    await createLb(env, 'red', 'dead', { subnetRef: 'a', listeners: [{ name: 'app', port: 81, targetPort: 9999 }], backends: { portRefs: ['web-1'] }, healthCheck: { intervalSeconds: 1, timeoutSeconds: 1, failureThreshold: 1 } });
    const lb = await waitLb(env, 'red', 'dead', 'NoHealthyBackends', (object) => condition(object, 'Ready')?.reason === 'NoHealthyBackends', 30_000);
    expect(lb.status!.listeners![0].state).toBe('NoHealthyBackends');
    const started = Date.now();
    expect(await connect(hosts.client, lb.status!.vipAddress!, 81)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(2000); // a reset, not a timeout
  }, 60_000);

  it('is unreachable from another tenant with the same addresses', async () => {
    // Blue's client has red's client's address; red's VIP address means nothing in blue's VPC.
    expect(await connect(hosts.blueClient, vip, 80, 1500)).toBeUndefined();
    expect(await connect(hosts.client, vip, 80)).toMatch(/^web-[123]$/);
  });

  it('refuses backends outside the VPC or the namespace', async () => {
    // Blue names red's Port: there is no such Port in blue.
    await createLb(env, 'blue', 'steal', { subnetRef: 'a', listeners: [{ name: 'app', port: 80, targetPort: 8080 }], backends: { portRefs: ['web-1'] } });
    const steal = await waitLb(env, 'blue', 'steal', 'backends refused', (lb) => condition(lb, 'BackendsResolved')?.status === 'False');
    expect(condition(steal, 'BackendsResolved')?.message).toContain('Port web-1 does not exist');
    expect(steal.status!.backendCount).toBe(0);
    expect(condition(steal, 'Ready')?.reason).toBe('NoBackends');
    // A Port of red on another Vpc of red.
    await create(env, 'Vpc', 'red', 'other', { cidrBlocks: ['10.9.0.0/16'] });
    await create(env, 'Subnet', 'red', 'x', { vpcRef: 'other', cidr: '10.9.1.0/24' });
    await create(env, 'Port', 'red', 'elsewhere', { subnetRef: 'x' });
    await waitReady(env, 'Port', 'red', 'elsewhere');
    await createLb(env, 'red', 'cross', { subnetRef: 'a', listeners: [{ name: 'app', port: 80 }], backends: { portRefs: ['web-1', 'elsewhere'] } });
    const cross = await waitLb(env, 'red', 'cross', 'one backend refused', (lb) => condition(lb, 'BackendsResolved')?.status === 'False' && lb.status?.backendCount === 1);
    expect(condition(cross, 'BackendsResolved')?.message).toContain('Port elsewhere is not on Vpc main');
    const rows = await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=vips', 'find', 'Load_Balancer', `external_ids:photoncloud.io/uid=${cross.metadata.uid}`);
    expect(rows).toContain('10.0.1.10:80');
    expect(rows).not.toContain('10.9.1.');
  }, 60_000);

  it('follows a label selector over VirtualMachines', async () => {
    // VMs whose status says where they run, as the virtualmachine-controller writes it (no hypervisor here: the
    // QEMU-backed test is test/lb/vm-backends); their interfaces are the web hosts' Ports.
    for (const [name, port, ip, tier] of [['vm-1', 'web-1', '10.0.1.10', 'front'], ['vm-3', 'web-3', '10.0.1.12', 'back']]) {
      const vm = await env.client.create(VirtualMachineResource, { apiVersion: VirtualMachineResource.apiVersion, kind: 'VirtualMachine', metadata: { name, namespace: 'red', labels: { tier } }, spec: { cpu: { cores: 1 }, memory: '64Mi', boot: { kernel: { imageRef: 'guest-kernel' } }, networks: [{ name: 'eth0', portRef: port }] } } as unknown as KubeObject);
      await env.client.updateStatus(VirtualMachineResource, { ...vm, status: { printableStatus: 'Running', interfaces: [{ name: 'eth0', portName: port, ipAddress: ip }] } } as KubeObject);
    }
    await createLb(env, 'red', 'by-label', { subnetRef: 'b', listeners: [{ name: 'app', port: 80, targetPort: 8080 }], backends: { selector: { tier: 'front' } }, healthCheck: { intervalSeconds: 1, timeoutSeconds: 1 } });
    let lb = await waitLb(env, 'red', 'by-label', 'vm-1 selected and online', (object) => object.status?.healthyBackendCount === 1 && object.status.backends?.[0]?.name === 'vm-1', 30_000);
    expect(lb.status!.backends![0]).toMatchObject({ kind: 'VirtualMachine', address: '10.0.1.10' });
    // The VIP is on subnet b now: health checks come from subnet a, where the backend is.
    expect(lb.status!.healthCheckSourceAddresses!.map((source) => source.subnetRef)).toEqual(['a']);
    await waitFor('vm-1 answers through the VIP', async () => (await connect(hosts['web-2'], lb.status!.vipAddress!, 80)) === 'web-1', { timeoutMs: 30_000, intervalMs: 200 });
    await env.client.patch(VirtualMachineResource, 'vm-3', { metadata: { labels: { tier: 'front' } } }, { namespace: 'red' });
    await env.client.patch(VirtualMachineResource, 'vm-1', { metadata: { labels: { tier: 'back' } } }, { namespace: 'red' });
    lb = await waitLb(env, 'red', 'by-label', 'vm-3 instead of vm-1', (object) => object.status?.backends?.map((backend) => backend.name).join() === 'vm-3' && object.status.healthyBackendCount === 1, 30_000);
    await waitFor('vm-3 answers through the VIP', async () => (await connect(hosts['web-2'], lb.status!.vipAddress!, 80)) === 'web-3', { timeoutMs: 30_000, intervalMs: 200 });
  }, 90_000);

  it('sets session affinity by client address', async () => {
    await createLb(env, 'red', 'sticky', { subnetRef: 'a', sessionAffinity: 'ClientIP', listeners: [{ name: 'app', port: 82, targetPort: 8080 }], backends: { portRefs: ['web-1', 'web-2', 'web-3'] } });
    const lb = await waitLb(env, 'red', 'sticky', 'Ready', (object) => condition(object, 'Ready')?.status === 'True', 30_000);
    expect((await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=selection_fields', 'find', 'Load_Balancer', `external_ids:photoncloud.io/uid=${lb.metadata.uid}`)).trim()).toBe('ip_src');
    const answers = await sample(hosts.client, lb.status!.vipAddress!, 82, 6);
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).toMatch(/^web-[123]$/);
  }, 60_000);

  it('refuses specs that can never work with 422 naming the field, storing nothing', async () => {
    const bad: Array<[string, object, string]> = [
      ['two-on-80', { listeners: [{ name: 'a', port: 80 }, { name: 'b', protocol: 'HTTP', port: 80 }] }, 'spec.listeners[1].port'],
      ['rules-on-tcp', { listeners: [{ name: 'a', port: 80, rules: [{ host: 'x.example', backends: { portRefs: ['web-1'] } }] }] }, 'spec.listeners[0].rules'],
      ['slow-check', { listeners: [{ name: 'a', port: 80 }], healthCheck: { intervalSeconds: 2, timeoutSeconds: 5 } }, 'spec.healthCheck.timeoutSeconds'],
      ['bad-protocol', { listeners: [{ name: 'a', protocol: 'SCTP', port: 80 }] }, 'spec.listeners[0].protocol'],
    ];
    for (const [name, spec, field] of bad) {
      const manifest = { apiVersion: 'lb.photoncloud.io/v1alpha1', kind: 'LoadBalancer', metadata: { name, namespace: 'red' }, spec: { subnetRef: 'a', ...spec } };
      const result = await env.api.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(manifest) });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(field);
      expect(await getLb(env, 'red', name).catch(() => undefined)).toBeUndefined();
    }
  });

  it('balances UDP and checks it: a backend whose port is closed (ICMP unreachable) goes offline', async () => {
    const udpServers = await Promise.all(['web-1', 'web-3'].map(async (name) => {
      const server = hosts[name].spawn(`udp-${name}`, process.execPath, ['-e', `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send('${name}', r.port, r.address)); s.bind(5353, () => console.log('listening'));`]);
      await waitFor(`${name} udp listening`, () => server.output().includes('listening'), { timeoutMs: 5000 });
      return server;
    }));
    try {
      await createLb(env, 'red', 'dns', { subnetRef: 'a', listeners: [{ name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 }], backends: { portRefs: ['web-1', 'web-2', 'web-3'] }, healthCheck: { intervalSeconds: 1, timeoutSeconds: 1, failureThreshold: 2 } });
      // web-2 has nothing on 5353: its kernel answers ICMP port unreachable to the checks.
      const lb = await waitLb(env, 'red', 'dns', 'web-2 offline, the others online', (object) => object.status?.healthyBackendCount === 2 && object.status.backends?.find((backend) => backend.name === 'web-2')?.health === 'offline', 30_000);
      expect(lb.status!.listeners).toEqual([{ name: 'dns', protocol: 'UDP', port: 53, state: 'Active' }]);
      const ask = async () => (await hosts.client.exec(process.execPath, ['-e', `const s = require('dgram').createSocket('udp4'); s.on('message', (m) => { process.stdout.write(String(m)); process.exit(0); }); setTimeout(() => process.exit(2), 1500); s.send('q', 53, '${lb.status!.vipAddress}');`], { timeoutMs: 5000 })).stdout;
      const seen = new Set<string>();
      await waitFor('both UDP backends answer through the VIP', async () => (seen.add(await ask()), seen.has('web-1') && seen.has('web-3')), { timeoutMs: 30_000, intervalMs: 0 });
      expect(seen.has('web-2')).toBe(false);
    } finally {
      await Promise.all(udpServers.map((server) => server.stop(1000)));
    }
  }, 60_000);

  it('converges when the subnet comes after the LoadBalancer', async () => {
    await createLb(env, 'red', 'early', { subnetRef: 'late', listeners: [{ name: 'app', port: 80 }] });
    await waitLb(env, 'red', 'early', 'SubnetNotFound', (lb) => condition(lb, 'Ready')?.reason === 'SubnetNotFound');
    await create(env, 'Subnet', 'red', 'late', { vpcRef: 'main', cidr: '10.0.3.0/24' });
    const lb = await waitLb(env, 'red', 'early', 'NoBackends with a VIP', (object) => condition(object, 'Ready')?.reason === 'NoBackends' && !!object.status?.vipAddress);
    expect(lb.status!.vipAddress).toBe('10.0.3.2');
  });

  it('gives a LoadBalancer waiting for a VIP the address another LoadBalancer or a Port frees', async () => {
    await namespace(env, 'full');
    await create(env, 'Vpc', 'full', 'main', { cidrBlocks: ['10.9.0.0/16'] });
    await create(env, 'Subnet', 'full', 'tiny', { vpcRef: 'main', cidr: '10.9.0.0/29' }); // 6 usable, 1 gateway → 5
    const listeners = [{ name: 'app', port: 80 }];
    const hasVip = (object: LoadBalancerObject) => !!object.status?.vipAddress;
    for (let index = 0; index < 3; index++) await create(env, 'Port', 'full', `p${index}`, { subnetRef: 'tiny' });
    for (let index = 0; index < 3; index++) await waitReady(env, 'Port', 'full', `p${index}`);
    await createLb(env, 'full', 'first', { subnetRef: 'tiny', listeners });
    await createLb(env, 'full', 'second', { subnetRef: 'tiny', listeners });
    const first = (await waitLb(env, 'full', 'first', 'a VIP', hasVip)).status!.vipAddress!;
    await waitLb(env, 'full', 'second', 'a VIP', hasVip);
    await createLb(env, 'full', 'third', { subnetRef: 'tiny', listeners });
    const exhausted = await waitLb(env, 'full', 'third', 'SubnetExhausted', (lb) => condition(lb, 'Ready')?.reason === 'SubnetExhausted');
    expect(condition(exhausted, 'Ready')?.message).toBe('Subnet tiny has no free address left for the VIP');
    // The Subnet counts the VIPs as used: none left, as the LoadBalancer says.
    const usage = async () => {
      const status = ((await env.client.get(SubnetResource, 'tiny', { namespace: 'full' })) as { status?: { usedIPs?: number; availableIPs?: number } }).status;
      return `${status?.usedIPs} used, ${status?.availableIPs} available`;
    };
    await waitFor('Subnet tiny full', async () => (await usage()) === '5 used, 0 available', { timeoutMs: 20_000, intervalMs: 100 }).catch(async (error) => {
      throw new Error(`${(error as Error).message}: ${await usage()}`);
    });
    // Nothing else changes in the namespace: the deletion alone brings `third` back, with the address.
    await env.client.delete(LoadBalancerResource, 'first', { namespace: 'full' });
    expect((await waitLb(env, 'full', 'third', 'the freed VIP', hasVip)).status!.vipAddress).toBe(first);

    // One that asks for second's VIP waits for that address.
    const second = (await getLb(env, 'full', 'second')).status!.vipAddress!;
    await createLb(env, 'full', 'wants', { subnetRef: 'tiny', listeners, vipAddress: second });
    const conflict = await waitLb(env, 'full', 'wants', 'VIPAddressConflict', (lb) => condition(lb, 'Ready')?.reason === 'VIPAddressConflict');
    expect(condition(conflict, 'Ready')?.message).toBe(`${second} is already used by LoadBalancer second (VIP)`);
    await env.client.delete(LoadBalancerResource, 'second', { namespace: 'full' });
    expect((await waitLb(env, 'full', 'wants', 'the requested VIP', hasVip)).status!.vipAddress).toBe(second);

    // A Port that goes frees one too.
    await createLb(env, 'full', 'fourth', { subnetRef: 'tiny', listeners });
    await waitLb(env, 'full', 'fourth', 'SubnetExhausted', (lb) => condition(lb, 'Ready')?.reason === 'SubnetExhausted');
    const freed = ((await env.client.get(PortResource, 'p1', { namespace: 'full' })) as { status?: { ipAddress?: string } }).status!.ipAddress;
    await env.client.delete(PortResource, 'p1', { namespace: 'full' });
    expect((await waitLb(env, 'full', 'fourth', 'the freed address', hasVip)).status!.vipAddress).toBe(freed);
  }, 90_000);

  it('keeps a Subnet being deleted until the LoadBalancer with its VIP there goes', async () => {
    await network('leaving');
    await createLb(env, 'leaving', 'web', { subnetRef: 'a', listeners: [{ name: 'app', port: 80 }] });
    await waitLb(env, 'leaving', 'web', 'a VIP', (lb) => !!lb.status?.vipAddress);
    await env.client.delete(SubnetResource, 'a', { namespace: 'leaving' });
    const waiting = await waitReason(env, 'Subnet', 'leaving', 'a', 'LoadBalancersRemaining');
    expect(readyCondition(waiting)?.message).toBe('waiting for LoadBalancers to give back their addresses in it: web');
    await waitLb(env, 'leaving', 'web', 'SubnetDeleting', (lb) => condition(lb, 'Ready')?.reason === 'SubnetDeleting');
    await env.client.delete(LoadBalancerResource, 'web', { namespace: 'leaving' });
    await waitFor('Subnet leaving/a gone', async () => (await env.client.get(SubnetResource, 'a', { namespace: 'leaving' }).catch(() => undefined)) === undefined, { timeoutMs: 30_000, intervalMs: 100 });
  }, 60_000);

  it('removes every OVN row and frees the VIP when deleted', async () => {
    const lb = await getLb(env, 'red', 'web');
    const uid = lb.metadata.uid!;
    const owned = async () => (await Promise.all(['Load_Balancer', 'Load_Balancer_Health_Check'].map((table) => env.ovn.nbctl('--data=bare', '--no-headings', '--columns=_uuid', 'find', table, `external_ids:photoncloud.io/uid=${uid}`)))).join('').trim();
    expect(await owned()).not.toBe('');
    await env.client.delete(LoadBalancerResource, 'web', { namespace: 'red' });
    await waitFor('LoadBalancer gone', async () => (await getLb(env, 'red', 'web').catch(() => undefined)) === undefined, { timeoutMs: 20_000, intervalMs: 100 });
    expect(await owned()).toBe('');
    // The Ports that wanted the VIP and the source address get them now.
    await waitReady(env, 'Port', 'red', 'takes-vip');
    await waitReady(env, 'Port', 'red', 'takes-source');
    expect(await connect(hosts.client, vip, 80, 1500)).toBeUndefined();
  }, 60_000);

  it('is not reconciled for its Subnet\'s status writes or for Ports that are not its backends', async () => {
    await network('quiet');
    await createLb(env, 'quiet', 'idle', { subnetRef: 'a', listeners: [{ name: 'app', port: 80 }] });
    await waitLb(env, 'quiet', 'idle', 'NoBackends with a VIP', (lb) => condition(lb, 'Ready')?.reason === 'NoBackends' && !!lb.status?.vipAddress);
    const used = async () => ((await env.client.get(SubnetResource, 'a', { namespace: 'quiet' })).status as { usedIPs?: number }).usedIPs;
    await waitFor('the VIP counted', async () => (await used()) === 1, { timeoutMs: 20_000, intervalMs: 100 });
    const metricsPort = await env.manager!.metricsPort();
    const queued = async () => Number((await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).match(/^photon_workqueue_adds_total\{name="loadbalancer-controller"\} (\d+)/m)?.[1]);
    const before = await queued();
    // Each Port is a status write of the Subnet (its used addresses), one after another.
    for (let index = 0; index < 4; index++) {
      await create(env, 'Port', 'quiet', `p${index}`, { subnetRef: 'a' });
      await waitReady(env, 'Port', 'quiet', `p${index}`);
      await waitFor(`usedIPs ${index + 2}`, async () => (await used()) === index + 2, { timeoutMs: 20_000, intervalMs: 100 });
    }
    expect(await queued()).toBe(before);
  }, 60_000);
});
