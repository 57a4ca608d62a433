// The hand-written etcd protobuf codec against bytes built independently here (BigInt varints, field by
// field from rpc.proto's numbers): exact request bytes, responses with large numbers and fields this client
// does not know, and refusal of malformed input. The real-etcd conformance suite (test/storage) covers the
// codec against etcd itself.
import { describe, expect, it } from '@jest/globals';
import {
  decodeRangeResponse,
  decodeTxnResponse,
  decodeWatchResponse,
  encodeCompactionRequest,
  encodeRangeRequest,
  encodeTxnRequest,
  encodeWatchRequest,
} from './etcd-proto.ts';

function varint(value: number | bigint): number[] {
  let rest = BigInt(value);
  const bytes: number[] = [];
  while (rest > 0x7fn) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return bytes;
}
const uintField = (field: number, value: number | bigint) => [...varint(field * 8), ...varint(value)];
const bytesField = (field: number, bytes: number[] | string) => {
  const content = typeof bytes === 'string' ? [...Buffer.from(bytes)] : bytes;
  return [...varint(field * 8 + 2), ...varint(content.length), ...content];
};
const message = (...fields: number[][]) => fields.flat();

describe('etcd-proto encoding', () => {
  it('writes a create txn exactly, with the compare operand present although it is 0', () => {
    const encoded = encodeTxnRequest({
      compare: [{ key: Buffer.from('/k'), target: 'create', result: 'equal', operand: 0 }],
      success: [{ put: { key: Buffer.from('/k'), value: Buffer.from('v') } }],
    });
    // Compare: target Create (1) = field 2; key = field 3; create_revision (oneof) = field 5, written as 0.
    const compare = message(uintField(2, 1), bytesField(3, '/k'), uintField(5, 0));
    const put = message(bytesField(1, '/k'), bytesField(2, 'v'));
    expect([...encoded]).toEqual(message(bytesField(1, compare), bytesField(2, bytesField(2, put))));
  });

  it('writes an update txn: version > 0 and mod_revision compares, put with prev_kv, a range on failure', () => {
    const key = Buffer.from('/registry/x');
    const encoded = encodeTxnRequest({
      compare: [
        { key, target: 'version', result: 'greater', operand: 0 },
        { key, target: 'mod', result: 'equal', operand: 2 ** 40 + 3 },
      ],
      success: [{ put: { key, value: Buffer.alloc(300, 7), prevKv: true } }],
      failure: [{ range: { key } }],
    });
    const exists = message(uintField(1, 1), bytesField(3, [...key]), uintField(4, 0));
    const put = message(bytesField(1, [...key]), bytesField(2, new Array(300).fill(7)), uintField(4, 1));
    expect([...encoded]).toEqual(
      message(
        bytesField(1, exists),
        bytesField(1, message(uintField(2, 2), bytesField(3, [...key]), uintField(6, 2 ** 40 + 3))),
        bytesField(2, bytesField(2, put)),
        bytesField(3, bytesField(1, bytesField(1, [...key]))),
      ),
    );
  });

  it('writes a range with its optional fields only when set, and a delete with prev_kv', () => {
    expect([...encodeRangeRequest({ key: Buffer.from('a') })]).toEqual(bytesField(1, 'a'));
    expect([...encodeRangeRequest({ key: Buffer.from('a'), rangeEnd: Buffer.from('b'), limit: 1000, revision: 2 ** 35, countOnly: true })]).toEqual(
      message(bytesField(1, 'a'), bytesField(2, 'b'), uintField(3, 1000), uintField(4, 2 ** 35), uintField(9, 1)),
    );
    expect([...encodeTxnRequest({ compare: [], success: [{ deleteRange: { key: Buffer.from('a'), prevKv: true } }] })]).toEqual(
      bytesField(2, bytesField(3, message(bytesField(1, 'a'), uintField(3, 1)))),
    );
    expect([...encodeCompactionRequest(123_456)]).toEqual(uintField(1, 123_456));
  });

  it('writes watch requests: a create with every option, the probe with its own 64-bit id and packed filters, cancel, progress', () => {
    expect([...encodeWatchRequest({ create: { key: Buffer.from('/a/'), rangeEnd: Buffer.from('/a0'), startRevision: 2 ** 33, prevKv: true, progressNotify: true } })]).toEqual(
      bytesField(1, message(bytesField(1, '/a/'), bytesField(2, '/a0'), uintField(3, 2 ** 33), uintField(4, 1), uintField(6, 1))),
    );
    // 10^18 is above 2^53: it must be written exactly, not through a JS number.
    expect([...encodeWatchRequest({ create: { key: Buffer.from('/a/'), watchId: '1000000000000000000', filters: ['noput', 'nodelete'] } })]).toEqual(
      bytesField(1, message(bytesField(1, '/a/'), bytesField(5, [0, 1]), uintField(7, 1000000000000000000n))),
    );
    expect([...encodeWatchRequest({ cancel: { watchId: '1000000000000000000' } })]).toEqual(bytesField(2, uintField(1, 1000000000000000000n)));
    expect([...encodeWatchRequest({ cancel: { watchId: '0' } })]).toEqual(bytesField(2, uintField(1, 0)));
    expect([...encodeWatchRequest({ progress: true })]).toEqual(bytesField(3, []));
  });

  it('refuses a number that cannot be a revision', () => {
    expect(() => encodeRangeRequest({ key: Buffer.from('a'), revision: -1 })).toThrow(RangeError);
    expect(() => encodeRangeRequest({ key: Buffer.from('a'), revision: 2 ** 60 })).toThrow(RangeError);
    expect(() => encodeRangeRequest({ key: Buffer.from('a'), limit: 1.5 })).toThrow(RangeError);
  });
});

describe('etcd-proto decoding', () => {
  // A header as etcd sends it: 64-bit cluster and member ids (10-byte varints), the revision, the raft term.
  const header = (revision: number) =>
    message(uintField(1, 0xfedcba9876543210n), uintField(2, 0x8000000000000001n), uintField(3, revision), uintField(4, 12));
  const keyValue = (key: string, value: string, create: number, mod: number) =>
    message(bytesField(1, key), uintField(2, create), uintField(3, mod), uintField(4, 2), bytesField(5, value), uintField(6, 0x7fffffffffffffffn));

  it('reads a range response: revisions above 2^32, kvs in order, more and count', () => {
    const bytes = Buffer.from(
      message(bytesField(1, header(2 ** 33 + 1)), bytesField(2, keyValue('/a', 'one', 5, 2 ** 33)), bytesField(2, keyValue('/b', '', 6, 7)), uintField(3, 1), uintField(4, 42)),
    );
    const response = decodeRangeResponse(bytes);
    expect(response.revision).toBe(2 ** 33 + 1);
    expect(response.more).toBe(true);
    expect(response.count).toBe(42);
    expect(response.kvs.map((kv) => [kv.key.toString(), kv.value.toString(), kv.createRevision, kv.modRevision, kv.version])).toEqual([
      ['/a', 'one', 5, 2 ** 33, 2],
      ['/b', '', 6, 7, 2],
    ]);
    // Values are copies: a value kept by the cache must not pin (or see changes to) the whole response.
    bytes.fill(0);
    expect(response.kvs[0].value.toString()).toBe('one');
  });

  it('reads an empty range response as no kvs at revision 0 defaults', () => {
    expect(decodeRangeResponse(Buffer.alloc(0))).toEqual({ revision: 0, kvs: [], more: false, count: 0 });
  });

  it('reads txn responses (put with prev_kv, delete with prev_kvs, range on failure) and skips unknown fields', () => {
    const unknown = message([...varint(15 * 8 + 1), 1, 2, 3, 4, 5, 6, 7, 8], [...varint(16 * 8 + 5), 1, 2, 3, 4], bytesField(17, 'future'), uintField(18, 9));
    const put = message(bytesField(1, header(100)), bytesField(2, keyValue('/k', 'old', 3, 99)), unknown);
    const deleteRange = message(bytesField(1, header(100)), uintField(2, 1), bytesField(3, keyValue('/k', 'old', 3, 99)));
    const response = decodeTxnResponse(
      Buffer.from(message(unknown, bytesField(1, header(100)), uintField(2, 1), bytesField(3, bytesField(2, put)), bytesField(3, bytesField(3, deleteRange)))),
    );
    expect(response.revision).toBe(100);
    expect(response.succeeded).toBe(true);
    expect(response.responses).toHaveLength(2);
    const [first, second] = response.responses;
    expect('put' in first && first.put.prevKv?.modRevision).toBe(99);
    expect('deleteRange' in second && [second.deleteRange.deleted, second.deleteRange.prevKvs[0]?.value.toString()]).toEqual([1, 'old']);

    const failed = decodeTxnResponse(Buffer.from(message(bytesField(1, header(101)), bytesField(3, bytesField(1, message(bytesField(2, keyValue('/k', 'now', 3, 100))))))));
    expect(failed.succeeded).toBe(false);
    expect('range' in failed.responses[0] && failed.responses[0].range.kvs[0]?.modRevision).toBe(100);
    // A put whose key had no previous value: prev_kv absent.
    const fresh = decodeTxnResponse(Buffer.from(message(bytesField(1, header(102)), uintField(2, 1), bytesField(3, bytesField(2, bytesField(1, header(102)))))));
    expect('put' in fresh.responses[0] && fresh.responses[0].put.prevKv).toBeNull();
  });

  it('reads watch responses: the progress answer (watch_id -1), created, events with their previous values, cancellation', () => {
    // -1 as int64: ten bytes of two's complement.
    const progress = decodeWatchResponse(Buffer.from(message(bytesField(1, header(77)), uintField(2, 0xffffffffffffffffn))));
    expect([progress.watchId, progress.revision, progress.created, progress.events]).toEqual(['-1', 77, false, []]);
    const probe = decodeWatchResponse(Buffer.from(message(bytesField(1, header(78)), uintField(2, 1000000000000000000n), uintField(3, 1))));
    expect([probe.watchId, probe.created]).toEqual(['1000000000000000000', true]);
    // The first watcher of a stream has id 0, which etcd leaves out.
    const events = decodeWatchResponse(
      Buffer.from(
        message(
          bytesField(1, header(80)),
          bytesField(11, message(bytesField(2, keyValue('/a', 'new', 79, 79)))),
          bytesField(11, message(uintField(1, 1), bytesField(2, keyValue('/b', '', 0, 80)), bytesField(3, keyValue('/b', 'old', 5, 60)))),
        ),
      ),
    );
    expect(events.watchId).toBe('0');
    expect(events.events.map((event) => [event.type, event.kv.key.toString(), event.kv.modRevision, event.prevKv?.value.toString() ?? null])).toEqual([
      ['put', '/a', 79, null],
      ['delete', '/b', 80, 'old'],
    ]);
    const canceled = decodeWatchResponse(Buffer.from(message(bytesField(1, header(81)), uintField(2, 3), uintField(4, 1), uintField(5, 42), bytesField(6, 'mvcc: required revision has been compacted'))));
    expect([canceled.watchId, canceled.canceled, canceled.compactRevision, canceled.cancelReason]).toEqual(['3', true, 42, 'mvcc: required revision has been compacted']);
  });

  it('refuses truncated or malformed messages with a RangeError instead of reading past them', () => {
    const whole = Buffer.from(message(bytesField(1, header(5)), bytesField(2, keyValue('/a', 'value', 1, 2))));
    for (const cut of [whole.length - 1, whole.length - 4, 3]) {
      expect(() => decodeRangeResponse(whole.subarray(0, cut))).toThrow(RangeError);
    }
    // A length that points past the end of an enclosing message, a varint without end, a group (wire type 3).
    expect(() => decodeRangeResponse(Buffer.from([0x12, 0x05, 0x0a, 0x10, 1, 2, 3]))).toThrow(RangeError);
    expect(() => decodeRangeResponse(Buffer.from([0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(RangeError);
    expect(() => decodeRangeResponse(Buffer.from([0x1b, 0x1c]))).toThrow(RangeError);
    // A txn response op of a kind never requested (a nested txn) is refused rather than misread.
    expect(() => decodeTxnResponse(Buffer.from(bytesField(3, bytesField(4, []))))).toThrow(/never requests/);
  });
});
