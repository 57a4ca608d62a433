import { describe, expect, it } from '@jest/globals';
import { JsonStreamParser, OvsdbFramingError } from './framing.ts';

const messages = [
  { id: 1, method: 'echo', params: [] },
  { id: null, method: 'update', params: ['m1', { Logical_Switch: { 'a-b': { new: { name: 'x{y}[z]' } } } }] },
  { id: 2, result: [{ uuid: ['uuid', '8d3c7b0e-6ad0-4c70-9d2c-2b7f0b1d5c0e'] }], error: null },
  { id: 3, result: { match: 'ip4.src == {10.0.0.1, 10.0.0.2} && outport == "p\\"1"' }, error: null },
  [1, [2, [3]], { '}': '{' }],
];
const text = messages.map((message) => JSON.stringify(message)).join('');

describe('JsonStreamParser', () => {
  it('splits concatenated messages with no delimiters', () => {
    expect(new JsonStreamParser().push(text)).toEqual(messages);
  });

  it('tolerates whitespace and newlines between messages', () => {
    const spaced = messages.map((message) => JSON.stringify(message, null, 2)).join('\n \r\t');
    expect(new JsonStreamParser().push(spaced)).toEqual(messages);
  });

  it('reassembles messages split at every possible byte boundary', () => {
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const parser = new JsonStreamParser();
      const out = [...parser.push(bytes.subarray(0, cut)), ...parser.push(bytes.subarray(cut))];
      expect(out).toEqual(messages);
      expect(parser.pending).toBe(false);
    }
  });

  it('handles one byte at a time, including escapes and braces inside strings', () => {
    const tricky = [
      { s: 'a\\"}{][' },
      { s: '\\\\' },
      { s: 'ends with backslash \\\\', t: '"quoted"' },
      { s: '\u00e9\u4e2d\ud83d\ude00 unicode split across reads' },
      { s: '\\u007b is { and \\u007d is }' },
    ];
    const bytes = Buffer.from(tricky.map((message) => JSON.stringify(message)).join(''));
    const parser = new JsonStreamParser();
    const out: unknown[] = [];
    for (const byte of bytes) out.push(...parser.push(Buffer.from([byte])));
    expect(out).toEqual(tricky);
  });

  it('keeps a partial message pending until it completes', () => {
    const parser = new JsonStreamParser();
    expect(parser.push('{"id":1,"result":{"a":"}')).toEqual([]);
    expect(parser.pending).toBe(true);
    expect(parser.push('"},"error":null}{"id"')).toEqual([{ id: 1, result: { a: '}' }, error: null }]);
    expect(parser.pending).toBe(true);
    expect(parser.push(':2}')).toEqual([{ id: 2 }]);
    expect(parser.pending).toBe(false);
  });

  it('rejects garbage between messages and malformed JSON', () => {
    expect(() => new JsonStreamParser().push('{"a":1} x')).toThrow(OvsdbFramingError);
    expect(() => new JsonStreamParser().push('{"a":1,}')).toThrow(/malformed/);
    expect(() => new JsonStreamParser().push('42')).toThrow(OvsdbFramingError);
  });

  it('bounds the size of one message', () => {
    const parser = new JsonStreamParser({ maxMessageChars: 100 });
    expect(() => parser.push(`{"a":"${'x'.repeat(200)}`)).toThrow(/larger than 100/);
  });

  it('stays linear for a large message arriving in many reads', () => {
    const rows: Record<string, unknown> = {};
    for (let i = 0; i < 40_000; i++) rows[`row-${i}`] = { new: { name: `switch-${i}`, external_ids: ['map', [['k', `v{${i}}"`]]] } };
    const bytes = Buffer.from(JSON.stringify({ id: 1, result: { Logical_Switch: rows }, error: null }));
    expect(bytes.length).toBeGreaterThan(3_000_000);
    const parser = new JsonStreamParser();
    const started = Date.now();
    const out: unknown[] = [];
    for (let offset = 0; offset < bytes.length; offset += 65536) out.push(...parser.push(bytes.subarray(offset, offset + 65536)));
    expect(out).toHaveLength(1);
    expect(Object.keys((out[0] as { result: { Logical_Switch: object } }).result.Logical_Switch)).toHaveLength(40_000);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('can be reset after a dropped connection', () => {
    const parser = new JsonStreamParser();
    parser.push('{"half":');
    parser.reset();
    expect(parser.pending).toBe(false);
    expect(parser.push('{"whole":true}')).toEqual([{ whole: true }]);
  });
});
