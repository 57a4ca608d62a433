// The protobuf wire format of the few etcd v3 KV messages the store sends and reads (etcdserverpb's
// rpc.proto and mvccpb's kv.proto, field numbers as in etcd 3.4/3.5), written by hand so that a request
// costs a few small buffers instead of a trip through protobufjs's reflection (see etcd-rpc.ts for why).
// Only what etcd.ts uses is here; fields a response carries that are not read are skipped, so a newer etcd
// that adds fields still decodes.
//
// int64 fields are carried as JS numbers: revisions and counts stay far below 2^53. Watch ids are the
// exception: the store picks one near 10^18 and etcd answers progress requests with -1, so they are decimal
// strings, read and written exactly.

/** mvccpb.KeyValue */
export interface KeyValueMessage {
  key: Buffer;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface RangeRequest {
  key: Buffer;
  rangeEnd?: Buffer;
  limit?: number;
  revision?: number;
  countOnly?: boolean;
}

export interface RangeResponse {
  revision: number;
  kvs: KeyValueMessage[];
  more: boolean;
  count: number;
}

export type CompareTarget = 'version' | 'create' | 'mod';
export type CompareResult = 'equal' | 'greater';

/** A Compare whose operand is an integer (the only kind the store uses). */
export interface Compare {
  key: Buffer;
  target: CompareTarget;
  result: CompareResult;
  operand: number;
}

export type RequestOp =
  | { range: RangeRequest }
  | { put: { key: Buffer; value: Buffer; prevKv?: boolean } }
  | { deleteRange: { key: Buffer; prevKv?: boolean } };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure?: RequestOp[];
}

export type WatchFilter = 'noput' | 'nodelete';

export type WatchRequest =
  | {
      create: {
        key: Buffer;
        rangeEnd?: Buffer;
        startRevision?: number;
        progressNotify?: boolean;
        filters?: WatchFilter[];
        prevKv?: boolean;
        /** Chosen by the client (etcd ≥ 3.4); without it etcd numbers the stream's watchers 0, 1, 2, … */
        watchId?: string;
      };
    }
  | { cancel: { watchId: string } }
  | { progress: true };

/** mvccpb.Event */
export interface EventMessage {
  type: 'put' | 'delete';
  kv: KeyValueMessage;
  prevKv: KeyValueMessage | null;
}

export interface WatchResponse {
  /** The header's revision. */
  revision: number;
  /** '-1' on the answer to a progress request. */
  watchId: string;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  events: EventMessage[];
}

export type ResponseOp =
  | { range: RangeResponse }
  | { put: { prevKv: KeyValueMessage | null } }
  | { deleteRange: { deleted: number; prevKvs: KeyValueMessage[] } };

export interface TxnResponse {
  revision: number;
  succeeded: boolean;
  responses: ResponseOp[];
}

// ---- encoding ----------------------------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;

/** Appends fields to a growing buffer; nested messages are encoded first and appended as bytes. */
class Writer {
  private buffer = Buffer.allocUnsafe(256);
  private length = 0;

  uint(field: number, value: number): this {
    this.varint(field * 8 + WIRE_VARINT);
    this.varint(value);
    return this;
  }

  /** A field proto3 omits at its default (0 / false). */
  optionalUint(field: number, value: number | boolean | undefined): this {
    const number = value === true ? 1 : value === false || value === undefined ? 0 : value;
    return number === 0 ? this : this.uint(field, number);
  }

  /** A signed 64-bit integer given as a decimal string (two's complement, as protobuf's int64). */
  int64(field: number, decimal: string): this {
    this.varint(field * 8 + WIRE_VARINT);
    let value = BigInt.asUintN(64, BigInt(decimal));
    this.reserve(10);
    while (value > 0x7fn) {
      this.buffer[this.length++] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    this.buffer[this.length++] = Number(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.varint(field * 8 + WIRE_BYTES);
    this.varint(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  finish(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`etcd-proto: ${value} is not a non-negative integer`);
    this.reserve(10);
    while (value > 0x7f) {
      this.buffer[this.length++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buffer[this.length++] = value;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

export function encodeRangeRequest(request: RangeRequest): Buffer {
  const writer = new Writer().bytes(1, request.key);
  if (request.rangeEnd) writer.bytes(2, request.rangeEnd);
  return writer.optionalUint(3, request.limit).optionalUint(4, request.revision).optionalUint(9, request.countOnly).finish();
}

const COMPARE_TARGET: Record<CompareTarget, number> = { version: 0, create: 1, mod: 2 };
const COMPARE_RESULT: Record<CompareResult, number> = { equal: 0, greater: 1 };
/** The field of Compare's target_union oneof that holds the operand, by target. */
const COMPARE_OPERAND_FIELD: Record<CompareTarget, number> = { version: 4, create: 5, mod: 6 };

function encodeCompare(compare: Compare): Buffer {
  return (
    new Writer()
      .optionalUint(1, COMPARE_RESULT[compare.result])
      .optionalUint(2, COMPARE_TARGET[compare.target])
      .bytes(3, compare.key)
      // A oneof member is written even when it is 0: without it etcd sees no operand at all.
      .uint(COMPARE_OPERAND_FIELD[compare.target], compare.operand)
      .finish()
  );
}

function encodeRequestOp(op: RequestOp): Buffer {
  const writer = new Writer();
  if ('range' in op) return writer.bytes(1, encodeRangeRequest(op.range)).finish();
  if ('put' in op) {
    const put = new Writer().bytes(1, op.put.key).bytes(2, op.put.value).optionalUint(4, op.put.prevKv).finish();
    return writer.bytes(2, put).finish();
  }
  const deleteRange = new Writer().bytes(1, op.deleteRange.key).optionalUint(3, op.deleteRange.prevKv).finish();
  return writer.bytes(3, deleteRange).finish();
}

export function encodeTxnRequest(request: TxnRequest): Buffer {
  const writer = new Writer();
  for (const compare of request.compare) writer.bytes(1, encodeCompare(compare));
  for (const op of request.success) writer.bytes(2, encodeRequestOp(op));
  for (const op of request.failure ?? []) writer.bytes(3, encodeRequestOp(op));
  return writer.finish();
}

/** A bare Put (the benchmark's baseline of what etcd itself can take; the store writes through txns). */
export function encodePutRequest(key: Buffer, value: Buffer): Buffer {
  return new Writer().bytes(1, key).bytes(2, value).finish();
}

const FILTER: Record<WatchFilter, number> = { noput: 0, nodelete: 1 };

export function encodeWatchRequest(request: WatchRequest): Buffer {
  const writer = new Writer();
  if ('create' in request) {
    const create = request.create;
    const body = new Writer().bytes(1, create.key);
    if (create.rangeEnd) body.bytes(2, create.rangeEnd);
    body.optionalUint(3, create.startRevision).optionalUint(4, create.progressNotify);
    if (create.filters?.length) {
      // A packed repeated enum: the values' varints as one length-delimited field.
      body.bytes(5, Buffer.from(create.filters.map((filter) => FILTER[filter])));
    }
    body.optionalUint(6, create.prevKv);
    if (create.watchId !== undefined) body.int64(7, create.watchId);
    return writer.bytes(1, body.finish()).finish();
  }
  if ('cancel' in request) return writer.bytes(2, new Writer().int64(1, request.cancel.watchId).finish()).finish();
  return writer.bytes(3, Buffer.alloc(0)).finish();
}

export function encodeCompactionRequest(revision: number): Buffer {
  return new Writer().optionalUint(1, revision).finish();
}

// ---- decoding ----------------------------------------------------------------------------------------

/** Reads one message's fields in order; nested messages are read by a Reader over their bytes. */
class Reader {
  private position: number;

  constructor(
    private readonly buffer: Buffer,
    start = 0,
    private readonly end = buffer.length,
  ) {
    this.position = start;
  }

  /** The next field's number and wire type, or undefined at the end of the message. */
  next(): { field: number; wire: number } | undefined {
    if (this.position >= this.end) return undefined;
    const tag = this.varint();
    return { field: Math.floor(tag / 8), wire: tag % 8 };
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.end) throw new RangeError('etcd-proto: truncated varint');
      const byte = this.buffer[this.position++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new RangeError('etcd-proto: varint longer than 10 bytes');
  }

  /** A varint read as a signed 64-bit integer, exactly, in decimal. */
  int64(): string {
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.end) throw new RangeError('etcd-proto: truncated varint');
      const byte = this.buffer[this.position++];
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asIntN(64, value).toString();
      shift += 7n;
    }
    throw new RangeError('etcd-proto: varint longer than 10 bytes');
  }

  /** A length-delimited field as a Reader over its bytes (no copy). */
  message(): Reader {
    const { start, end } = this.span();
    return new Reader(this.buffer, start, end);
  }

  /** A length-delimited field's bytes, copied: a value must not keep a whole response alive. */
  bytes(): Buffer {
    const { start, end } = this.span();
    return Buffer.from(this.buffer.subarray(start, end));
  }

  string(): string {
    const { start, end } = this.span();
    return this.buffer.toString('utf8', start, end);
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_BYTES) this.span();
    else if (wire === 1) this.advance(8);
    else if (wire === 5) this.advance(4);
    else throw new RangeError(`etcd-proto: unsupported wire type ${wire}`);
  }

  private span(): { start: number; end: number } {
    const length = this.varint();
    const start = this.position;
    this.advance(length);
    return { start, end: this.position };
  }

  private advance(bytes: number): void {
    if (this.position + bytes > this.end) throw new RangeError('etcd-proto: field runs past the end of its message');
    this.position += bytes;
  }
}

function decodeHeaderRevision(reader: Reader): number {
  let revision = 0;
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 3 && tag.wire === WIRE_VARINT) revision = reader.varint();
    else reader.skip(tag.wire);
  }
  return revision;
}

function decodeKeyValue(reader: Reader): KeyValueMessage {
  const kv: KeyValueMessage = { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0 };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1 && tag.wire === WIRE_BYTES) kv.key = reader.bytes();
    else if (tag.field === 2 && tag.wire === WIRE_VARINT) kv.createRevision = reader.varint();
    else if (tag.field === 3 && tag.wire === WIRE_VARINT) kv.modRevision = reader.varint();
    else if (tag.field === 4 && tag.wire === WIRE_VARINT) kv.version = reader.varint();
    else if (tag.field === 5 && tag.wire === WIRE_BYTES) kv.value = reader.bytes();
    else reader.skip(tag.wire);
  }
  return kv;
}

const EMPTY = Buffer.alloc(0);

function decodeRange(reader: Reader): RangeResponse {
  const response: RangeResponse = { revision: 0, kvs: [], more: false, count: 0 };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1 && tag.wire === WIRE_BYTES) response.revision = decodeHeaderRevision(reader.message());
    else if (tag.field === 2 && tag.wire === WIRE_BYTES) response.kvs.push(decodeKeyValue(reader.message()));
    else if (tag.field === 3 && tag.wire === WIRE_VARINT) response.more = reader.varint() !== 0;
    else if (tag.field === 4 && tag.wire === WIRE_VARINT) response.count = reader.varint();
    else reader.skip(tag.wire);
  }
  return response;
}

export function decodeRangeResponse(message: Buffer): RangeResponse {
  return decodeRange(new Reader(message));
}

function decodePut(reader: Reader): { prevKv: KeyValueMessage | null } {
  let prevKv: KeyValueMessage | null = null;
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 2 && tag.wire === WIRE_BYTES) prevKv = decodeKeyValue(reader.message());
    else reader.skip(tag.wire);
  }
  return { prevKv };
}

function decodeDeleteRange(reader: Reader): { deleted: number; prevKvs: KeyValueMessage[] } {
  const response = { deleted: 0, prevKvs: [] as KeyValueMessage[] };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 2 && tag.wire === WIRE_VARINT) response.deleted = reader.varint();
    else if (tag.field === 3 && tag.wire === WIRE_BYTES) response.prevKvs.push(decodeKeyValue(reader.message()));
    else reader.skip(tag.wire);
  }
  return response;
}

function decodeResponseOp(reader: Reader): ResponseOp {
  let op: ResponseOp | undefined;
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1 && tag.wire === WIRE_BYTES) op = { range: decodeRange(reader.message()) };
    else if (tag.field === 2 && tag.wire === WIRE_BYTES) op = { put: decodePut(reader.message()) };
    else if (tag.field === 3 && tag.wire === WIRE_BYTES) op = { deleteRange: decodeDeleteRange(reader.message()) };
    else reader.skip(tag.wire);
  }
  if (!op) throw new RangeError('etcd-proto: a txn response op of a kind this client never requests');
  return op;
}

export function decodeTxnResponse(message: Buffer): TxnResponse {
  const reader = new Reader(message);
  const response: TxnResponse = { revision: 0, succeeded: false, responses: [] };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1 && tag.wire === WIRE_BYTES) response.revision = decodeHeaderRevision(reader.message());
    else if (tag.field === 2 && tag.wire === WIRE_VARINT) response.succeeded = reader.varint() !== 0;
    else if (tag.field === 3 && tag.wire === WIRE_BYTES) response.responses.push(decodeResponseOp(reader.message()));
    else reader.skip(tag.wire);
  }
  return response;
}

function decodeEvent(reader: Reader): EventMessage {
  const event: EventMessage = { type: 'put', kv: EMPTY_KV, prevKv: null };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1 && tag.wire === WIRE_VARINT) event.type = reader.varint() === 1 ? 'delete' : 'put';
    else if (tag.field === 2 && tag.wire === WIRE_BYTES) event.kv = decodeKeyValue(reader.message());
    else if (tag.field === 3 && tag.wire === WIRE_BYTES) event.prevKv = decodeKeyValue(reader.message());
    else reader.skip(tag.wire);
  }
  return event;
}

const EMPTY_KV: KeyValueMessage = Object.freeze({ key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0 });

export function decodeWatchResponse(message: Buffer): WatchResponse {
  const reader = new Reader(message);
  const response: WatchResponse = { revision: 0, watchId: '0', created: false, canceled: false, compactRevision: 0, cancelReason: '', events: [] };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1 && tag.wire === WIRE_BYTES) response.revision = decodeHeaderRevision(reader.message());
    else if (tag.field === 2 && tag.wire === WIRE_VARINT) response.watchId = reader.int64();
    else if (tag.field === 3 && tag.wire === WIRE_VARINT) response.created = reader.varint() !== 0;
    else if (tag.field === 4 && tag.wire === WIRE_VARINT) response.canceled = reader.varint() !== 0;
    else if (tag.field === 5 && tag.wire === WIRE_VARINT) response.compactRevision = reader.varint();
    else if (tag.field === 6 && tag.wire === WIRE_BYTES) response.cancelReason = reader.string();
    else if (tag.field === 11 && tag.wire === WIRE_BYTES) response.events.push(decodeEvent(reader.message()));
    else reader.skip(tag.wire);
  }
  return response;
}
