// Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into the JSON
// form the rest of the server works on. kubectl sends built-in kinds this way (`kubectl create namespace`,
// `kubectl auth can-i`); responses are always JSON, which kubectl accepts. Only the messages of the
// built-in kinds this server serves are described here; anything else is a 415.
//
// Wire format: the 4 bytes `k8s\0`, then a runtime.Unknown {1: typeMeta {1: apiVersion, 2: kind}, 2: raw}
// whose raw bytes are the message itself (field numbers from k8s.io/api generated.proto).
import { badRequest, unsupportedMediaType } from '../errors.ts';

type Scalar = 'string' | 'bytes' | 'int64' | 'int32' | 'bool' | 'time' | 'microtime' | 'quantity';
interface FieldSpec {
  name: string;
  type: Scalar | MessageSpec | { map: Scalar };
  repeated?: boolean;
}
type MessageSpec = { [fieldNumber: number]: FieldSpec };

const TYPE_META: MessageSpec = { 1: { name: 'apiVersion', type: 'string' }, 2: { name: 'kind', type: 'string' } };
/** google.protobuf.Timestamp, the wire form of metav1.Time and metav1.MicroTime. */
const TIMESTAMP: MessageSpec = { 1: { name: 'seconds', type: 'int64' }, 2: { name: 'nanos', type: 'int32' } };
const UNKNOWN: MessageSpec = { 1: { name: 'typeMeta', type: TYPE_META }, 2: { name: 'raw', type: 'bytes' }, 3: { name: 'contentEncoding', type: 'string' }, 4: { name: 'contentType', type: 'string' } };

const OWNER_REFERENCE: MessageSpec = {
  1: { name: 'kind', type: 'string' },
  3: { name: 'name', type: 'string' },
  4: { name: 'uid', type: 'string' },
  5: { name: 'apiVersion', type: 'string' },
  6: { name: 'controller', type: 'bool' },
  7: { name: 'blockOwnerDeletion', type: 'bool' },
};

const OBJECT_META: MessageSpec = {
  1: { name: 'name', type: 'string' },
  2: { name: 'generateName', type: 'string' },
  3: { name: 'namespace', type: 'string' },
  5: { name: 'uid', type: 'string' },
  6: { name: 'resourceVersion', type: 'string' },
  7: { name: 'generation', type: 'int64' },
  8: { name: 'creationTimestamp', type: 'time' },
  9: { name: 'deletionTimestamp', type: 'time' },
  10: { name: 'deletionGracePeriodSeconds', type: 'int64' },
  11: { name: 'labels', type: { map: 'string' } },
  12: { name: 'annotations', type: { map: 'string' } },
  13: { name: 'ownerReferences', type: OWNER_REFERENCE, repeated: true },
  14: { name: 'finalizers', type: 'string', repeated: true },
};

const NAMESPACE: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: { name: 'spec', type: { 1: { name: 'finalizers', type: 'string', repeated: true } } },
  3: { name: 'status', type: { 1: { name: 'phase', type: 'string' } } },
};

const DELETE_OPTIONS: MessageSpec = {
  1: { name: 'gracePeriodSeconds', type: 'int64' },
  2: { name: 'preconditions', type: { 1: { name: 'uid', type: 'string' }, 2: { name: 'resourceVersion', type: 'string' } } },
  3: { name: 'orphanDependents', type: 'bool' },
  4: { name: 'propagationPolicy', type: 'string' },
  5: { name: 'dryRun', type: 'string', repeated: true },
};

const OBJECT_REFERENCE: MessageSpec = {
  1: { name: 'kind', type: 'string' },
  2: { name: 'namespace', type: 'string' },
  3: { name: 'name', type: 'string' },
  4: { name: 'uid', type: 'string' },
  5: { name: 'apiVersion', type: 'string' },
  6: { name: 'resourceVersion', type: 'string' },
  7: { name: 'fieldPath', type: 'string' },
};

const CONFIG_MAP: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: { name: 'data', type: { map: 'string' } },
  3: { name: 'binaryData', type: { map: 'bytes' } },
  4: { name: 'immutable', type: 'bool' },
};

const SECRET: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: { name: 'data', type: { map: 'bytes' } },
  3: { name: 'type', type: 'string' },
  4: { name: 'stringData', type: { map: 'string' } },
  5: { name: 'immutable', type: 'bool' },
};

const SERVICE_ACCOUNT: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: { name: 'secrets', type: OBJECT_REFERENCE, repeated: true },
  3: { name: 'imagePullSecrets', type: { 1: { name: 'name', type: 'string' } }, repeated: true },
  4: { name: 'automountServiceAccountToken', type: 'bool' },
};

const LEASE: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: {
    name: 'spec',
    type: {
      1: { name: 'holderIdentity', type: 'string' },
      2: { name: 'leaseDurationSeconds', type: 'int32' },
      3: { name: 'acquireTime', type: 'microtime' },
      4: { name: 'renewTime', type: 'microtime' },
      5: { name: 'leaseTransitions', type: 'int32' },
      6: { name: 'strategy', type: 'string' },
      7: { name: 'preferredHolder', type: 'string' },
    },
  },
};

const EVENT_SOURCE: MessageSpec = { 1: { name: 'component', type: 'string' }, 2: { name: 'host', type: 'string' } };
const EVENT_SERIES: MessageSpec = { 1: { name: 'count', type: 'int32' }, 2: { name: 'lastObservedTime', type: 'microtime' } };

const CORE_EVENT: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: { name: 'involvedObject', type: OBJECT_REFERENCE },
  3: { name: 'reason', type: 'string' },
  4: { name: 'message', type: 'string' },
  5: { name: 'source', type: EVENT_SOURCE },
  6: { name: 'firstTimestamp', type: 'time' },
  7: { name: 'lastTimestamp', type: 'time' },
  8: { name: 'count', type: 'int32' },
  9: { name: 'type', type: 'string' },
  10: { name: 'eventTime', type: 'microtime' },
  11: { name: 'series', type: EVENT_SERIES },
  12: { name: 'action', type: 'string' },
  13: { name: 'related', type: OBJECT_REFERENCE },
  14: { name: 'reportingComponent', type: 'string' },
  15: { name: 'reportingInstance', type: 'string' },
};

const EVENTS_V1_EVENT: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: { name: 'eventTime', type: 'microtime' },
  3: { name: 'series', type: EVENT_SERIES },
  4: { name: 'reportingController', type: 'string' },
  5: { name: 'reportingInstance', type: 'string' },
  6: { name: 'action', type: 'string' },
  7: { name: 'reason', type: 'string' },
  8: { name: 'regarding', type: OBJECT_REFERENCE },
  9: { name: 'related', type: OBJECT_REFERENCE },
  10: { name: 'note', type: 'string' },
  11: { name: 'type', type: 'string' },
  12: { name: 'deprecatedSource', type: EVENT_SOURCE },
  13: { name: 'deprecatedFirstTimestamp', type: 'time' },
  14: { name: 'deprecatedLastTimestamp', type: 'time' },
  15: { name: 'deprecatedCount', type: 'int32' },
};

// rbac.authorization.k8s.io/v1 (kubectl create role/clusterrole/rolebinding/clusterrolebinding send these).
const POLICY_RULE: MessageSpec = {
  1: { name: 'verbs', type: 'string', repeated: true },
  2: { name: 'apiGroups', type: 'string', repeated: true },
  3: { name: 'resources', type: 'string', repeated: true },
  4: { name: 'resourceNames', type: 'string', repeated: true },
  5: { name: 'nonResourceURLs', type: 'string', repeated: true },
};
const LABEL_SELECTOR: MessageSpec = {
  1: { name: 'matchLabels', type: { map: 'string' } },
  2: { name: 'matchExpressions', type: { 1: { name: 'key', type: 'string' }, 2: { name: 'operator', type: 'string' }, 3: { name: 'values', type: 'string', repeated: true } }, repeated: true },
};
const ROLE: MessageSpec = { 1: { name: 'metadata', type: OBJECT_META }, 2: { name: 'rules', type: POLICY_RULE, repeated: true } };
const CLUSTER_ROLE: MessageSpec = { ...ROLE, 3: { name: 'aggregationRule', type: { 1: { name: 'clusterRoleSelectors', type: LABEL_SELECTOR, repeated: true } } } };
const ROLE_BINDING: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: { name: 'subjects', type: { 1: { name: 'kind', type: 'string' }, 2: { name: 'apiGroup', type: 'string' }, 3: { name: 'name', type: 'string' }, 4: { name: 'namespace', type: 'string' } }, repeated: true },
  3: { name: 'roleRef', type: { 1: { name: 'apiGroup', type: 'string' }, 2: { name: 'kind', type: 'string' }, 3: { name: 'name', type: 'string' } } },
};

// authorization.k8s.io/v1 reviews (kubectl ≥1.32 sends `auth can-i` and `can-i --list` this way). ResourceAttributes'
// fieldSelector (8) and labelSelector (9) and SubjectAccessReviewSpec's extra (5) are skipped: RBAC uses none.
const RESOURCE_ATTRIBUTES: MessageSpec = {
  1: { name: 'namespace', type: 'string' },
  2: { name: 'verb', type: 'string' },
  3: { name: 'group', type: 'string' },
  4: { name: 'version', type: 'string' },
  5: { name: 'resource', type: 'string' },
  6: { name: 'subresource', type: 'string' },
  7: { name: 'name', type: 'string' },
};
const NON_RESOURCE_ATTRIBUTES: MessageSpec = { 1: { name: 'path', type: 'string' }, 2: { name: 'verb', type: 'string' } };
const SELF_SUBJECT_ACCESS_REVIEW: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: { name: 'spec', type: { 1: { name: 'resourceAttributes', type: RESOURCE_ATTRIBUTES }, 2: { name: 'nonResourceAttributes', type: NON_RESOURCE_ATTRIBUTES } } },
};
const SUBJECT_ACCESS_REVIEW: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: {
    name: 'spec',
    type: {
      1: { name: 'resourceAttributes', type: RESOURCE_ATTRIBUTES },
      2: { name: 'nonResourceAttributes', type: NON_RESOURCE_ATTRIBUTES },
      3: { name: 'user', type: 'string' },
      4: { name: 'groups', type: 'string', repeated: true },
      6: { name: 'uid', type: 'string' },
    },
  },
};
const SELF_SUBJECT_RULES_REVIEW: MessageSpec = { 1: { name: 'metadata', type: OBJECT_META }, 2: { name: 'spec', type: { 1: { name: 'namespace', type: 'string' } } } };
/** authentication.k8s.io SelfSubjectReview: metadata only (its status is the server's to fill in). */
const SELF_SUBJECT_REVIEW: MessageSpec = { 1: { name: 'metadata', type: OBJECT_META } };
/** authentication.k8s.io/v1 TokenRequest (`kubectl create token`); boundObjectRef is decoded so it can be refused. */
const TOKEN_REQUEST: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: {
    name: 'spec',
    type: {
      1: { name: 'audiences', type: 'string', repeated: true },
      3: { name: 'boundObjectRef', type: { 1: { name: 'kind', type: 'string' }, 2: { name: 'apiVersion', type: 'string' }, 3: { name: 'name', type: 'string' }, 4: { name: 'uid', type: 'string' } } },
      4: { name: 'expirationSeconds', type: 'int64' },
    },
  },
};

// core v1 ResourceQuota (kubectl create quota).
const RESOURCE_QUOTA: MessageSpec = {
  1: { name: 'metadata', type: OBJECT_META },
  2: { name: 'spec', type: { 1: { name: 'hard', type: { map: 'quantity' } }, 2: { name: 'scopes', type: 'string', repeated: true } } },
};

/** Message descriptions by `apiVersion kind`, for the kinds whose protobuf bodies are accepted. */
const MESSAGES: Record<string, MessageSpec> = {
  'v1 Namespace': NAMESPACE,
  'v1 ConfigMap': CONFIG_MAP,
  'v1 Secret': SECRET,
  'v1 ServiceAccount': SERVICE_ACCOUNT,
  'v1 Event': CORE_EVENT,
  'events.k8s.io/v1 Event': EVENTS_V1_EVENT,
  'coordination.k8s.io/v1 Lease': LEASE,
  'v1 ResourceQuota': RESOURCE_QUOTA,
  'rbac.authorization.k8s.io/v1 Role': ROLE,
  'rbac.authorization.k8s.io/v1 ClusterRole': CLUSTER_ROLE,
  'rbac.authorization.k8s.io/v1 RoleBinding': ROLE_BINDING,
  'rbac.authorization.k8s.io/v1 ClusterRoleBinding': ROLE_BINDING,
  'authorization.k8s.io/v1 SelfSubjectAccessReview': SELF_SUBJECT_ACCESS_REVIEW,
  'authorization.k8s.io/v1 SubjectAccessReview': SUBJECT_ACCESS_REVIEW,
  'authorization.k8s.io/v1 LocalSubjectAccessReview': SUBJECT_ACCESS_REVIEW,
  'authorization.k8s.io/v1 SelfSubjectRulesReview': SELF_SUBJECT_RULES_REVIEW,
  'authentication.k8s.io/v1 SelfSubjectReview': SELF_SUBJECT_REVIEW,
  'authentication.k8s.io/v1beta1 SelfSubjectReview': SELF_SUBJECT_REVIEW,
  'authentication.k8s.io/v1 TokenRequest': TOKEN_REQUEST,
};

class Reader {
  position = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.position >= this.bytes.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.position >= this.bytes.length) throw new Error('truncated varint');
      const byte = this.bytes[this.position++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  }

  /** A length-delimited field's bytes (wire type 2). */
  delimited(): Uint8Array {
    return this.take(Number(this.varint()));
  }

  take(length: number): Uint8Array {
    if (length < 0 || this.position + length > this.bytes.length) throw new Error('truncated field');
    const slice = this.bytes.subarray(this.position, this.position + length);
    this.position += length;
    return slice;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.take(8);
    else if (wireType === 2) this.delimited();
    else if (wireType === 5) this.take(4);
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

function decodeScalar(type: Scalar, reader: Reader): unknown {
  switch (type) {
    case 'string':
      return Buffer.from(reader.delimited()).toString('utf8');
    case 'bytes':
      return Buffer.from(reader.delimited());
    case 'int64':
    case 'int32':
      return Number(BigInt.asIntN(64, reader.varint()));
    case 'bool':
      return reader.varint() !== 0n;
    case 'quantity':
      // resource.Quantity is a message with its string form in field 1.
      return (decodeMessage(reader.delimited(), { 1: { name: 'string', type: 'string' } }) as { string?: string }).string ?? '';
    case 'time':
    case 'microtime': {
      const bytes = reader.delimited();
      // Go writes a zero (unset) metav1.Time as an empty message and reads it back as unset, not as 1970.
      if (bytes.length === 0) return undefined;
      const message = decodeMessage(bytes, TIMESTAMP) as { seconds?: number; nanos?: number };
      const iso = new Date((message.seconds ?? 0) * 1000).toISOString();
      if (type === 'time') return iso.replace(/\.\d{3}Z$/, 'Z');
      // metav1.MicroTime: RFC 3339 with exactly six fractional digits.
      return iso.replace(/\.\d{3}Z$/, `.${String(Math.floor((message.nanos ?? 0) / 1000)).padStart(6, '0')}Z`);
    }
  }
}

function decodeMessage(bytes: Uint8Array, spec: MessageSpec): Record<string, unknown> {
  const reader = new Reader(bytes);
  const out: Record<string, unknown> = {};
  while (!reader.done) {
    const tag = Number(reader.varint());
    const fieldNumber = tag >>> 3;
    const wireType = tag & 7;
    const field = spec[fieldNumber];
    if (!field) {
      reader.skip(wireType);
      continue;
    }
    let value: unknown;
    if (typeof field.type === 'string') value = decodeScalar(field.type, reader);
    else if ('map' in field.type) {
      const entry = decodeMessage(reader.delimited(), { 1: { name: 'key', type: 'string' }, 2: { name: 'value', type: field.type.map as Scalar } });
      const map = (out[field.name] ??= {}) as Record<string, unknown>;
      const mapValue = entry.value instanceof Buffer ? entry.value.toString('base64') : entry.value ?? '';
      Object.defineProperty(map, String(entry.key ?? ''), { value: mapValue, enumerable: true, writable: true, configurable: true });
      continue;
    } else value = decodeMessage(reader.delimited(), field.type as MessageSpec);
    if (value instanceof Buffer && field.name !== 'raw') value = value.toString('base64');
    if (field.repeated) ((out[field.name] ??= []) as unknown[]).push(value);
    // Go writes every non-pointer scalar, zero values included, where its JSON would omit them (omitempty):
    // keep the JSON meaning, so defaults apply (a Secret's type "" means "unset", defaulted to Opaque).
    else if (value !== '' && value !== 0 && value !== false && value !== undefined) out[field.name] = value;
  }
  return out;
}

/** Decodes a `k8s\0`-enveloped protobuf body of a known kind into its JSON object form. */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || body.subarray(0, 4).toString('latin1') !== 'k8s\0') throw badRequest('protobuf body does not start with the k8s\\0 envelope');
  let envelope: Record<string, unknown>;
  try {
    envelope = decodeMessage(body.subarray(4), UNKNOWN);
  } catch (error) {
    throw badRequest(`malformed protobuf body: ${(error as Error).message}`);
  }
  const typeMeta = (envelope.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const id = `${typeMeta.apiVersion ?? ''} ${typeMeta.kind ?? ''}`;
  // DeleteOptions arrive with the apiVersion of the resource being deleted (v1, meta.k8s.io/v1, a group's).
  const deleteOptions = typeMeta.kind === 'DeleteOptions' ? DELETE_OPTIONS : undefined;
  const spec = Object.hasOwn(MESSAGES, id) ? MESSAGES[id] : deleteOptions;
  if (!spec) throw unsupportedMediaType('application/vnd.kubernetes.protobuf', ['application/json', 'application/yaml']);
  let object: Record<string, unknown>;
  try {
    object = decodeMessage((envelope.raw as Buffer | undefined) ?? Buffer.alloc(0), spec);
  } catch (error) {
    throw badRequest(`malformed protobuf ${typeMeta.kind}: ${(error as Error).message}`);
  }
  return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...object };
}
