// Randomised hostile requests against a real API server: random methods, paths (traversal segments, odd
// encodings, long and empty segments), query strings, headers and bodies derived from valid objects and
// mutated — JSON, YAML (anchors, tags, flow and block styles), JSON patches, merge patches, server-side
// apply, and protobuf envelopes with flipped or truncated bytes. Seeded, so a failing run is reproduced
// with its seed. Used by test/apiserver/fuzz.test.ts (a few thousand per `npm test`) and by `npm run fuzz`
// (hack/fuzz.ts, long campaigns).
import YAML from 'yaml';
import type { ApiClient } from './http.ts';

/** mulberry32: small, fast, seedable. */
export function prng(seed: number) {
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
export type Random = ReturnType<typeof prng>;

export const FUZZ_NAMESPACE = 'fuzz';

export const SEEDS: Array<{ path: string; body: Record<string, any> }> = [
  { path: '/apis/network.photoncloud.io/v1alpha1/namespaces/fuzz/vpcs', body: { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'v', labels: { a: 'b' } }, spec: { cidrBlocks: ['10.0.0.0/16'], staticRoutes: [{ destination: '0.0.0.0/0', nextHop: '10.0.0.1' }] } } },
  { path: '/apis/network.photoncloud.io/v1alpha1/namespaces/fuzz/subnets', body: { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 's' }, spec: { vpcRef: 'v', cidr: '10.0.1.0/24', excludeIPs: ['10.0.1.2..10.0.1.9'], dhcp: { enabled: true, leaseSeconds: 600, dnsServers: ['10.0.1.53'] } } } },
  { path: '/apis/network.photoncloud.io/v1alpha1/namespaces/fuzz/securitygroups', body: { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'SecurityGroup', metadata: { name: 'g' }, spec: { ingress: [{ protocol: 'TCP', ports: '22', from: { cidr: '0.0.0.0/0' } }] } } },
  { path: '/api/v1/namespaces/fuzz/configmaps', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', annotations: { note: 'n' } }, data: { a: 'b', 'x.y': 'z' } } },
  { path: '/apis/compute.photoncloud.io/v1alpha1/namespaces/fuzz/virtualmachines', body: { apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'vm' }, spec: { runStrategy: 'Always', cpu: { cores: 1 }, memory: '512Mi', boot: { imageRef: 'debian' }, networks: [{ name: 'eth0', subnetRef: 's' }] } } },
  { path: '/apis/iam.photoncloud.io/v1alpha1/projects', body: { apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Project', metadata: { name: 'p' }, spec: { organizationRef: { name: 'o' }, displayName: 'P' } } },
  { path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } } },
  { path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.fuzz.example.com' }, spec: { group: 'fuzz.example.com', scope: 'Namespaced', names: { plural: 'widgets', kind: 'Widget' }, versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'string', pattern: '^[0-9]+$' } } } } } } }] } } },
];

const WEIRD_STRINGS = ['', ' ', '-', '..', '.', '%2F', 'a/b', '\u0000', '💥', 'ä', 'x'.repeat(300), '<script>', "' OR 1=1", '${jndi}', '../../etc/passwd', 'null', '0', '-1', '1e309', 'NaN', '__proto__', 'constructor', 'prototype', 'k8s.io', 'system:masters'];
const WEIRD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53 + 1, 1e308, '', 'x'.repeat(5000), [], {}, [[[]]], { $ref: '#' }, ['a', 1, null], { a: { b: { c: {} } } }];
const CONTENT_TYPES = ['application/json', 'application/yaml', 'application/merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml', 'application/strategic-merge-patch+json', 'text/plain', 'application/vnd.kubernetes.protobuf', '', 'application/json; charset=utf-8', 'multipart/form-data'];
const ACCEPTS = ['application/json', 'application/json;as=Table;v=v1;g=meta.k8s.io', 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io', 'application/yaml', 'application/vnd.kubernetes.protobuf', '*/*', 'text/html', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'];
const QUERY_KEYS = ['labelSelector', 'fieldSelector', 'limit', 'continue', 'resourceVersion', 'resourceVersionMatch', 'watch', 'timeoutSeconds', 'dryRun', 'fieldValidation', 'fieldManager', 'force', 'propagationPolicy', 'includeObject', 'allowWatchBookmarks', 'sendInitialEvents', 'gracePeriodSeconds', 'orphanDependents', 'hash', 'verbose'];
const QUERY_VALUES = ['', 'true', 'false', '0', '1', '-5', '1.5', '99999999999999999999', 'All', 'Strict', 'Warn', 'Ignore', 'Exact', 'NotOlderThan', 'a=b', 'a in (b,c)', '!a', 'a,b', 'metadata.name=v', 'spec.x=1', '(', 'Object', 'Orphan', 'Foreground', 'Bogus', 'eyJydiI6MX0', '%', 'x'.repeat(2000)];
const PATH_SEGMENTS = ['..', '.', '%2e%2e', '%2E.', '%2f', '%252e', '%', '%zz', '%c0%ae', '%00', '%E2%80%AE', 'a%2Fb', '', '~', '*', 'status', 'finalize', 'scale', 'x'.repeat(300), encodeURIComponent('💥'), ';a=b', '%3F', '%23'];

export function mutate(value: unknown, random: Random, depth = 0): unknown {
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

/** A request target with odd segments spliced in, or a path to a non-resource endpoint. */
function fuzzPath(seed: (typeof SEEDS)[number], name: string, random: Random): string {
  let path = seed.path;
  switch (random.int(10)) {
    case 1:
    case 2:
      return `${path}/${encodeURIComponent(name)}`;
    case 3:
      return `${path}/${encodeURIComponent(name)}/status`;
    case 4:
      return `${path}/${encodeURIComponent(name)}/${random.pick(PATH_SEGMENTS)}`;
    case 5:
      return path.replace(/\/[^/]+$/, `/${random.pick(PATH_SEGMENTS) || 'x'}`);
    case 6:
      return random.pick(['/api', '/apis', '/api/v1', '/apis/network.photoncloud.io', '/openapi/v3', '/openapi/v3/apis/network.photoncloud.io/v1alpha1', '/version', '/metrics', '/readyz', '/livez?verbose', '/nope', '/apis/../api', '/api/v1/namespaces/fuzz/../../v1/namespaces']);
    case 7: {
      // Splice odd segments anywhere in the path.
      const parts = path.split('/');
      for (let count = 1 + random.int(3); count > 0; count--) parts.splice(1 + random.int(parts.length), 0, random.pick(PATH_SEGMENTS));
      return parts.join('/');
    }
    case 8:
      return path.replace('/namespaces/fuzz/', `/namespaces/${random.pick(PATH_SEGMENTS) || 'x'}/`);
    default:
      path += random.chance(0.1) ? '/' : '';
      return path;
  }
}

/** A JSON patch of 1–8 operations, mostly over paths that exist. */
function jsonPatch(random: Random): string {
  const paths = ['/spec', '/metadata/name', '/metadata/labels', '/metadata/labels/a', '/spec/cidrBlocks/-', '/spec/cidrBlocks/0', '', '/a~1b', '/status', '/metadata/finalizers/0', '/metadata/finalizers', '/data', '/data/a', '/metadata/managedFields', '/metadata/uid', '/kind', '/-', '/spec/x/y/z'];
  const ops = Array.from({ length: 1 + random.int(8) }, () => ({
    op: random.pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus']),
    path: random.pick(paths),
    from: random.pick(paths),
    value: random.chance(0.5) ? random.pick(WEIRD_VALUES) : random.pick(WEIRD_STRINGS),
  }));
  return JSON.stringify(random.chance(0.05) ? ops[0] : ops);
}

/** YAML renderings of an object, plain and hostile (anchors, tags, flow style, broken indentation). */
function yamlBody(object: unknown, random: Random): string {
  const text = YAML.stringify(object ?? null);
  switch (random.int(7)) {
    case 0:
      return `kind: ${random.pick(WEIRD_STRINGS)}\nmetadata: {name: x}\nspec: &a [*a]\n`;
    case 1:
      return `${text}extra: &b {k: v}\nmore: [*b, *b, *b]\n`;
    case 2:
      return text.replace(/^( *)/gm, (indent) => (random.chance(0.1) ? indent + ' ' : indent));
    case 3:
      return `!!binary ${text}`;
    case 4:
      return `${text}\n---\n${text}`;
    case 5:
      return JSON.stringify(object);
    default:
      return text;
  }
}

/** A protobuf envelope, valid or damaged: the kinds kubectl sends as protobuf. */
function protobufBody(random: Random): Buffer {
  const field = (number: number, bytes: Buffer) => Buffer.concat([Buffer.from([(number << 3) | 2, bytes.length & 0x7f]), bytes]);
  const kind = random.pick(['ConfigMap', 'Secret', 'Namespace', 'ServiceAccount', 'DeleteOptions', 'Vpc', '']);
  const typeMeta = Buffer.concat([field(1, Buffer.from('v1')), field(2, Buffer.from(kind))]);
  const metadata = field(1, Buffer.from(random.pick(['pb', ...WEIRD_STRINGS.slice(0, 8)])));
  const entry = field(2, Buffer.concat([field(1, Buffer.from(random.pick(['a', '__proto__', 'constructor', '']))), field(2, Buffer.from('v'))]));
  const body = Buffer.concat([Buffer.from('k8s\0'), field(1, typeMeta), field(2, Buffer.concat([field(1, metadata), entry]))]);
  const damaged = Buffer.from(body);
  switch (random.int(5)) {
    case 0:
      for (let flips = 1 + random.int(4); flips > 0; flips--) damaged[4 + random.int(damaged.length - 4)] = random.int(256);
      return damaged;
    case 1:
      return damaged.subarray(0, random.int(damaged.length));
    case 2:
      return Buffer.concat([Buffer.from('k8s\0'), Buffer.from(Array.from({ length: random.int(200) }, () => random.int(256)))]);
    default:
      return body;
  }
}

export interface FuzzRequest {
  method: string;
  path: string;
  body?: string | Buffer;
  headers: Record<string, string>;
}

export function randomRequest(random: Random): FuzzRequest {
  const seed = random.pick(SEEDS);
  const name = random.chance(0.7) ? seed.body.metadata.name : random.pick(WEIRD_STRINGS);
  const path = fuzzPath(seed, name, random);
  const query = new URLSearchParams();
  for (let index = random.int(3); index > 0; index--) query.set(random.pick(QUERY_KEYS), random.pick(QUERY_VALUES));
  const method = random.pick(['GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'PATCH', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
  // Deleting every CRD is an administrator's right, and would leave the rest of the run nothing to hit.
  const target = method === 'DELETE' && path.replace(/\/$/, '') === SEEDS[7].path ? `${path}/${SEEDS[7].body.metadata.name}` : path;
  let contentType = random.pick(CONTENT_TYPES);
  let body: string | Buffer | undefined;
  if (method !== 'GET' && method !== 'HEAD' && random.chance(0.9)) {
    const mutated = mutate(structuredClone(seed.body), random);
    switch (random.int(12)) {
      case 0:
        body = JSON.stringify(mutated).slice(0, random.int(200));
        break;
      case 1:
        body = Buffer.from(Array.from({ length: random.int(300) }, () => random.int(256))).toString('latin1');
        break;
      case 2:
      case 3:
        contentType = 'application/json-patch+json';
        body = jsonPatch(random);
        break;
      case 4:
        contentType = 'application/merge-patch+json';
        body = JSON.stringify(random.chance(0.7) ? { metadata: { labels: { [random.pick(WEIRD_STRINGS) || 'k']: random.pick(WEIRD_STRINGS) } }, spec: mutate(seed.body.spec, random) } : mutated);
        break;
      case 5:
      case 6:
        contentType = random.pick(['application/apply-patch+yaml', 'application/yaml']);
        if (contentType === 'application/apply-patch+yaml' && !query.has('fieldManager')) query.set('fieldManager', random.pick(['fuzzer', 'kubectl', '', 'x'.repeat(200)]));
        if (random.chance(0.3)) query.set('force', random.pick(['true', 'false']));
        body = yamlBody(mutated, random);
        break;
      case 7:
        contentType = 'application/vnd.kubernetes.protobuf';
        body = protobufBody(random);
        break;
      default:
        body = JSON.stringify(mutated);
    }
  }
  const queryString = query.toString();
  return { method, path: queryString ? `${target}?${queryString}` : target, body, headers: { 'Content-Type': contentType, Accept: random.pick(ACCEPTS) } };
}

export interface FuzzReport {
  sent: number;
  statuses: Map<number, number>;
  /** Requests answered with a 5xx, or not answered at all (status 0). */
  failures: string[];
}

/** Sends `count` requests from `seed` with `concurrency` in flight; never throws for a bad answer. */
export async function runFuzz(client: ApiClient, options: { count: number; seed: number; concurrency: number; onProgress?: (sent: number) => void }): Promise<FuzzReport> {
  const random = prng(options.seed);
  const report: FuzzReport = { sent: 0, statuses: new Map(), failures: [] };
  const worker = async () => {
    while (report.sent < options.count) {
      const request = randomRequest(random);
      report.sent++;
      if (report.sent % 10_000 === 0) options.onProgress?.(report.sent);
      // Watches would stay open: cap them so the run ends.
      const path = request.path.includes('watch=') ? `${request.path}&timeoutSeconds=1` : request.path;
      let status = 0;
      let text = '';
      try {
        const result = await client.request(path, { method: request.method, body: request.body, headers: request.headers });
        status = result.status;
        text = result.text;
      } catch (error) {
        // A request this client cannot even send (Node refuses some paths) says nothing about the server.
        if ((error as NodeJS.ErrnoException).code === 'ERR_UNESCAPED_CHARACTERS') continue;
        text = `no answer: ${(error as Error).message}`;
      }
      report.statuses.set(status, (report.statuses.get(status) ?? 0) + 1);
      if (status >= 500 || status === 0) {
        const shownBody = typeof request.body === 'string' ? request.body.slice(0, 300) : request.body?.toString('base64').slice(0, 300);
        report.failures.push(`${status} ${request.method} ${request.path.slice(0, 300)} ${request.headers['Content-Type']}: ${text.slice(0, 300)}\n  body: ${shownBody}`);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return report;
}

/** Creates the namespace and the first few seed objects the fuzzed requests address. */
export async function prepareFuzzTargets(client: ApiClient): Promise<void> {
  await client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: FUZZ_NAMESPACE } }) });
  for (const seed of SEEDS.slice(0, 4)) await client.request(seed.path, { method: 'POST', body: JSON.stringify(seed.body) });
}
