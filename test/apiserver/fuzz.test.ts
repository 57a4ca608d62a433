// A few thousand mutated requests (random methods, paths, headers, query strings and bodies derived from
// valid objects) against a real server: never a 5xx, never a crash, and the server still serves afterwards.
// The seed is printed on failure; PHOTON_FUZZ_SEED reproduces a run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient } from '../env/http.ts';

const REQUESTS = Number(process.env.PHOTON_FUZZ_REQUESTS ?? 3000);
const SEED = Number(process.env.PHOTON_FUZZ_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: small, fast, seedable. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Random = ReturnType<typeof prng>;

const SEEDS: Array<{ path: string; body: Record<string, any> }> = [
  { path: '/apis/network.photoncloud.io/v1alpha1/namespaces/fuzz/vpcs', body: { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'v', labels: { a: 'b' } }, spec: { cidrBlocks: ['10.0.0.0/16'], staticRoutes: [{ destination: '0.0.0.0/0', nextHop: '10.0.0.1' }] } } },
  { path: '/apis/network.photoncloud.io/v1alpha1/namespaces/fuzz/subnets', body: { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 's' }, spec: { vpcRef: 'v', cidr: '10.0.1.0/24', excludeIPs: ['10.0.1.2..10.0.1.9'], dhcp: { enabled: true, leaseSeconds: 600, dnsServers: ['10.0.1.53'] } } } },
  { path: '/apis/network.photoncloud.io/v1alpha1/namespaces/fuzz/securitygroups', body: { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'SecurityGroup', metadata: { name: 'g' }, spec: { ingress: [{ protocol: 'TCP', ports: '22', from: { cidr: '0.0.0.0/0' } }] } } },
  { path: '/apis/compute.photoncloud.io/v1alpha1/namespaces/fuzz/virtualmachines', body: { apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'vm' }, spec: { runStrategy: 'Always', cpu: { cores: 1 }, memory: '512Mi', boot: { imageRef: 'debian' }, networks: [{ name: 'eth0', subnetRef: 's' }] } } },
  { path: '/apis/iam.photoncloud.io/v1alpha1/projects', body: { apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Project', metadata: { name: 'p' }, spec: { organizationRef: 'o', displayName: 'P' } } },
  { path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } } },
];

const WEIRD_STRINGS = ['', ' ', '-', '..', '%2F', 'a/b', '\u0000', '💥', 'ä', 'x'.repeat(300), '<script>', "' OR 1=1", '${jndi}', '../../etc/passwd', 'null', '0', '-1', '1e309', 'NaN', '__proto__', 'constructor'];
const WEIRD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53 + 1, 1e308, '', 'x'.repeat(5000), [], {}, [[[]]], { $ref: '#' }, ['a', 1, null], { a: { b: { c: {} } } }];
const CONTENT_TYPES = ['application/json', 'application/yaml', 'application/merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml', 'application/strategic-merge-patch+json', 'text/plain', 'application/vnd.kubernetes.protobuf', '', 'application/json; charset=utf-8', 'multipart/form-data'];
const ACCEPTS = ['application/json', 'application/json;as=Table;v=v1;g=meta.k8s.io', 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io', 'application/yaml', 'application/vnd.kubernetes.protobuf', '*/*', 'text/html', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'];
const QUERY_KEYS = ['labelSelector', 'fieldSelector', 'limit', 'continue', 'resourceVersion', 'resourceVersionMatch', 'watch', 'timeoutSeconds', 'dryRun', 'fieldValidation', 'fieldManager', 'force', 'propagationPolicy', 'includeObject', 'allowWatchBookmarks', 'sendInitialEvents', 'gracePeriodSeconds'];
const QUERY_VALUES = ['', 'true', 'false', '0', '1', '-5', '99999999999999999999', 'All', 'Strict', 'Warn', 'Ignore', 'Exact', 'NotOlderThan', 'a=b', 'a in (b,c)', '!a', 'metadata.name=v', 'spec.x=1', '(', 'Object', 'Orphan', 'Foreground', 'Bogus', 'eyJydiI6MX0'];

function mutate(value: unknown, random: Random, depth = 0): unknown {
  if (depth > 6 || random.chance(0.15)) return random.pick(WEIRD_VALUES.concat(WEIRD_STRINGS));
  if (Array.isArray(value)) {
    const copy = value.map((item) => (random.chance(0.3) ? mutate(item, random, depth + 1) : item));
    if (random.chance(0.2)) copy.push(random.pick(WEIRD_VALUES));
    if (random.chance(0.1)) copy.length = 0;
    return copy;
  }
  if (value && typeof value === 'object') {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const key of Object.keys(copy)) {
      if (random.chance(0.15)) delete copy[key];
      else if (random.chance(0.35)) copy[key] = mutate(copy[key], random, depth + 1);
    }
    if (random.chance(0.15)) copy[random.pick(WEIRD_STRINGS) || 'k'] = random.pick(WEIRD_VALUES);
    return copy;
  }
  return random.chance(0.5) ? random.pick(WEIRD_VALUES) : value;
}

function randomRequest(random: Random) {
  const seed = random.pick(SEEDS);
  const name = random.chance(0.7) ? seed.body.metadata.name : random.pick(WEIRD_STRINGS);
  let path = seed.path;
  const shape = random.int(8);
  if (shape === 1 || shape === 2) path += `/${encodeURIComponent(name)}`;
  if (shape === 3) path += `/${encodeURIComponent(name)}/status`;
  if (shape === 4) path += `/${encodeURIComponent(name)}/${random.pick(['scale', 'finalize', 'x', '..', ''])}`;
  if (shape === 5) path = path.replace(/\/[^/]+$/, `/${random.pick(WEIRD_STRINGS) || 'x'}`);
  if (shape === 6) path = random.pick(['/api', '/apis', '/api/v1', '/apis/network.photoncloud.io', '/openapi/v3', '/openapi/v3/apis/network.photoncloud.io/v1alpha1', '/version', '/metrics', '/readyz', '/nope', '/apis/../api']);
  const query = new URLSearchParams();
  for (let index = random.int(3); index > 0; index--) query.set(random.pick(QUERY_KEYS), random.pick(QUERY_VALUES));
  const method = random.pick(['GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
  const contentType = random.pick(CONTENT_TYPES);
  let body: string | undefined;
  if (method !== 'GET' && method !== 'HEAD' && random.chance(0.9)) {
    const mutated = mutate(structuredClone(seed.body), random);
    const variant = random.int(10);
    if (variant === 0) body = JSON.stringify(mutated).slice(0, random.int(200));
    else if (variant === 1) body = Buffer.from(Array.from({ length: random.int(300) }, () => random.int(256))).toString('latin1');
    else if (variant === 2) body = JSON.stringify([{ op: random.pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus']), path: random.pick(['/spec', '/metadata/name', '/spec/cidrBlocks/-', '', '/a~1b', '/status', '/metadata/finalizers/0']), from: '/spec', value: random.pick(WEIRD_VALUES) }]);
    else if (variant === 3) body = `kind: ${random.pick(WEIRD_STRINGS)}\nmetadata: {name: ${JSON.stringify(name)}}\nspec: &a [*a]\n`;
    else body = JSON.stringify(mutated);
  }
  return { method, path: query.size ? `${path}?${query}` : path, body, headers: { 'Content-Type': contentType, Accept: random.pick(ACCEPTS) } };
}

describe('randomized bad input', () => {
  let env: TestApiServer;
  let api: ApiClient;

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    api = new ApiClient(env);
    await api.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fuzz' } }) });
    for (const seed of SEEDS.slice(0, 3)) await api.request(seed.path, { method: 'POST', body: JSON.stringify(seed.body) });
  });
  afterAll(async () => {
    api?.close();
    await env?.stop();
  });

  it(`answers ${REQUESTS} mutated requests without a 5xx (seed ${SEED})`, async () => {
    const random = prng(SEED);
    const requests = Array.from({ length: REQUESTS }, () => randomRequest(random));
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++];
        // Watches would stay open: cap them so the run ends.
        const path = request.path.includes('watch=') ? `${request.path}&timeoutSeconds=1` : request.path;
        const result = await api.request(path, { method: request.method, body: request.body, headers: request.headers });
        statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
        if (result.status >= 500 || result.status === 0) failures.push(`${result.status} ${request.method} ${request.path} ${request.headers['Content-Type']}: ${result.text.slice(0, 300)}\n  body: ${request.body?.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(failures).toEqual([]);
    // The run exercised both refusals and successes.
    expect([...statuses.keys()].some((status) => status >= 400 && status < 500)).toBe(true);
    expect([...statuses.keys()].some((status) => status < 300)).toBe(true);
    expect((await api.request('/readyz', { anonymous: true })).status).toBe(200);
    const list = await api.request('/apis/network.photoncloud.io/v1alpha1/namespaces/fuzz/vpcs');
    expect(list.status).toBe(200);
  });
});
