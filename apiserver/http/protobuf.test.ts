import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../errors.ts';
import { decodeProtobufObject } from './protobuf.ts';

// A hand-rolled protobuf writer: just what is needed to build Kubernetes' `k8s\0` envelopes.
function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}
const tag = (field: number, wireType: number) => varint((field << 3) | wireType);
const bytesField = (field: number, payload: Uint8Array | number[]) => [...tag(field, 2), ...varint(payload.length), ...payload];
const stringField = (field: number, text: string) => bytesField(field, [...Buffer.from(text, 'utf8')]);
const varintField = (field: number, value: number) => [...tag(field, 0), ...varint(value)];
const mapEntry = (field: number, key: string, value: string) => bytesField(field, [...stringField(1, key), ...stringField(2, value)]);

function envelope(apiVersion: string, kind: string, raw: number[]): Buffer {
  const typeMeta = [...stringField(1, apiVersion), ...stringField(2, kind)];
  return Buffer.from([...Buffer.from('k8s\0', 'latin1'), ...bytesField(1, typeMeta), ...bytesField(2, raw), ...stringField(3, ''), ...stringField(4, '')]);
}

const namespaceMessage = () => {
  const metadata = [
    ...stringField(1, 'team-a'),
    ...mapEntry(11, 'photoncloud.io/project', 'team-a'),
    ...mapEntry(11, 'env', 'prod'),
    ...mapEntry(12, 'note', 'héllo'),
    ...stringField(14, 'example.com/a'),
    ...stringField(14, 'example.com/b'),
    ...bytesField(8, varintField(1, 1_700_000_000)), // creationTimestamp {seconds}
    ...bytesField(13, [...stringField(1, 'Organization'), ...stringField(3, 'acme'), ...stringField(4, 'uid-1'), ...stringField(5, 'iam.photoncloud.io/v1alpha1'), ...varintField(6, 1)]),
    ...varintField(7, 3), // generation
    ...stringField(99, 'an unknown field, skipped'),
  ];
  const spec = [...stringField(1, 'kubernetes')];
  return [...bytesField(1, metadata), ...bytesField(2, spec)];
};

function decodeError(body: Buffer): ApiError {
  try {
    decodeProtobufObject(body);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('decoded');
}

describe('decodeProtobufObject', () => {
  it('decodes a Namespace as kubectl create namespace sends it', () => {
    expect(decodeProtobufObject(envelope('v1', 'Namespace', namespaceMessage()))).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'team-a',
        labels: { 'photoncloud.io/project': 'team-a', env: 'prod' },
        annotations: { note: 'héllo' },
        finalizers: ['example.com/a', 'example.com/b'],
        creationTimestamp: '2023-11-14T22:13:20Z',
        ownerReferences: [{ kind: 'Organization', name: 'acme', uid: 'uid-1', apiVersion: 'iam.photoncloud.io/v1alpha1', controller: true }],
        generation: 3,
      },
      spec: { finalizers: ['kubernetes'] },
    });
  });

  it('decodes an empty Namespace message', () => {
    expect(decodeProtobufObject(envelope('v1', 'Namespace', []))).toEqual({ apiVersion: 'v1', kind: 'Namespace' });
  });

  it('decodes DeleteOptions', () => {
    const raw = [...varintField(1, 30), ...stringField(4, 'Foreground'), ...stringField(5, 'All'), ...bytesField(2, stringField(1, 'uid-9'))];
    expect(decodeProtobufObject(envelope('meta.k8s.io/v1', 'DeleteOptions', raw))).toEqual({
      apiVersion: 'meta.k8s.io/v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: 30,
      propagationPolicy: 'Foreground',
      dryRun: ['All'],
      preconditions: { uid: 'uid-9' },
    });
  });

  it('a "__proto__" label key is an own property', () => {
    const raw = bytesField(1, [...stringField(1, 'a'), ...mapEntry(11, '__proto__', 'x')]);
    const object = decodeProtobufObject(envelope('v1', 'Namespace', raw)) as { metadata: { labels: Record<string, string> } };
    expect(Object.prototype.hasOwnProperty.call(object.metadata.labels, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(object.metadata.labels)).toBe(Object.prototype);
  });

  it('unknown kinds are 415 Unsupported Media Type', () => {
    for (const kind of ['PersistentVolume', 'Vpc', '', 'toString', 'constructor', '__proto__']) {
      const error = decodeError(envelope('v1', kind, []));
      expect(error.code).toBe(415);
      expect(error.reason).toBe('UnsupportedMediaType');
    }
  });

  it('a body without the k8s\\0 prefix is a 400', () => {
    expect(decodeError(Buffer.from('{"kind":"Namespace"}')).code).toBe(400);
    expect(decodeError(Buffer.from('k8s')).code).toBe(400);
  });

  it('truncated bodies are 400s, never crashes', () => {
    const full = envelope('v1', 'Namespace', namespaceMessage());
    for (let length = 5; length < full.length - 4; length += 3) {
      let outcome: unknown;
      try {
        decodeProtobufObject(full.subarray(0, length));
        outcome = 'decoded';
      } catch (error) {
        outcome = error;
      }
      if (outcome !== 'decoded') {
        expect(outcome).toBeInstanceOf(ApiError);
        expect([400, 415]).toContain((outcome as ApiError).code);
      }
    }
    const cut = full.subarray(0, full.length - 20); // inside the raw Namespace bytes
    const error = decodeError(cut);
    expect(error.code).toBe(400);
    expect(error.message).toMatch(/^malformed protobuf/);
  });

  it('a truncated raw message inside a complete envelope is a 400 naming the kind', () => {
    const raw = namespaceMessage().slice(0, 10);
    const error = decodeError(envelope('v1', 'Namespace', raw));
    expect(error.code).toBe(400);
    expect(error.message).toMatch(/^malformed protobuf Namespace: /);
  });
});

// Bodies captured from kubectl 1.32.5 (kubectl ≥1.32 sends these kinds as protobuf): `auth can-i create vpcs -n x`,
// `auth can-i get /healthz`, `auth can-i --list -n x`, `auth whoami`, `create token sa1 -n x --duration 20m
// --audience photoncloud`. Each carries an empty ObjectMeta with an empty (unset) creationTimestamp and the
// zero status kubectl fills in.
const KUBECTL_132 = {
  canI: '6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a65637441636365737352657669657712390a100a0012001a0022002a00320038004200121b0a190a017812066372656174651a0022002a047670637332003a001a08080012001a0020001a002200',
  canINonResource: '6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374416363657373526576696577122f0a100a0012001a0022002a003200380042001211120f0a082f6865616c74687a12036765741a08080012001a0020001a002200',
  canIList: '6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a65637452756c6573526576696577121d0a100a0012001a0022002a0032003800420012030a01781a04180022001a002200',
  whoami: '6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f7631121153656c665375626a656374526576696577121a0a100a0012001a0022002a0032003800420012060a040a0012001a002200',
  createToken: '6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e52657175657374122a0a100a0012001a0022002a0032003800420012100a0b70686f746f6e636c6f756420b0091a040a0012001a002200',
};
const captured = (hex: string) => decodeProtobufObject(Buffer.from(hex, 'hex'));

describe('decodeProtobufObject: reviews and TokenRequest as kubectl 1.32 sends them', () => {
  it('SelfSubjectAccessReview with resource attributes (empty strings and the unset timestamp dropped)', () => {
    expect(captured(KUBECTL_132.canI)).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: { resourceAttributes: { namespace: 'x', verb: 'create', resource: 'vpcs' } },
    });
  });

  it('SelfSubjectAccessReview with non-resource attributes', () => {
    expect(captured(KUBECTL_132.canINonResource)).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: { nonResourceAttributes: { path: '/healthz', verb: 'get' } },
    });
  });

  it('SelfSubjectRulesReview, SelfSubjectReview and TokenRequest', () => {
    expect(captured(KUBECTL_132.canIList)).toEqual({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', metadata: {}, spec: { namespace: 'x' } });
    expect(captured(KUBECTL_132.whoami)).toEqual({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {} });
    expect(captured(KUBECTL_132.createToken)).toEqual({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: {}, spec: { audiences: ['photoncloud'], expirationSeconds: 1200 } });
  });

  it('SubjectAccessReview with user, groups and uid (kubectl sends these as JSON; other clients may not)', () => {
    const spec = [...stringField(3, 'alice'), ...stringField(4, 'dev'), ...stringField(4, 'ops'), ...stringField(6, 'u-1'), ...bytesField(1, [...stringField(2, 'get'), ...stringField(5, 'configmaps')])];
    expect(decodeProtobufObject(envelope('authorization.k8s.io/v1', 'SubjectAccessReview', bytesField(2, spec)))).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'alice', groups: ['dev', 'ops'], uid: 'u-1', resourceAttributes: { verb: 'get', resource: 'configmaps' } },
    });
  });

  it('a review body cut short is a 400 naming the kind', () => {
    const full = Buffer.from(KUBECTL_132.canI, 'hex');
    const error = decodeError(full.subarray(0, full.length - 12));
    expect(error.code).toBe(400);
    expect(error.message).toMatch(/^malformed protobuf/);
  });
});
