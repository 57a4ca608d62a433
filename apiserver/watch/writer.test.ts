import { EventEmitter } from 'node:events';
import { describe, expect, it, jest } from '@jest/globals';
import { ApiError } from '../errors.ts';
import { watchTimeoutSeconds } from '../http/watch-handler.ts';
import { WatchWriter, type Line, type WatchOutput } from './writer.ts';

/**
 * A socket-like output: write() accepts everything but reports "full" once `capacity` characters are
 * unread; read() lets the client take characters, and emits 'drain' once it took everything (as Node does).
 */
class FakeOutput extends EventEmitter implements WatchOutput {
  written: Line[] = [];
  writableLength = 0;
  destroyed = false;
  writableEnded = false;
  private needDrain = false;

  constructor(private readonly capacity: number) {
    super();
  }

  write(chunk: Line): boolean {
    this.written.push(chunk);
    this.writableLength += chunk.length;
    this.needDrain = this.writableLength >= this.capacity;
    return !this.needDrain;
  }

  /** The client reads everything buffered so far. */
  read(): void {
    this.writableLength = 0;
    if (this.needDrain) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  destroy(): void {
    this.destroyed = true;
  }
}

const line = (n: number, size = 10) => `${String(n).padStart(size - 1, '0')}\n`;

describe('WatchWriter', () => {
  it('writes a line at once into an idle socket; lines that come while it holds output go out together next turn', async () => {
    const output = new FakeOutput(1000);
    const writer = new WatchWriter(output, { maxBufferedBytes: 10_000 });
    writer.send(line(1));
    expect(output.written).toEqual([line(1)]);
    writer.send(line(2));
    writer.send(line(3));
    expect(output.written).toEqual([line(1)]);
    expect(writer.backlogged).toBe(true);
    await new Promise(setImmediate);
    expect(output.written).toEqual([line(1), line(2) + line(3)]);
    expect(writer.backlogged).toBe(false);
    output.read();
    writer.send(line(4));
    expect(output.written).toEqual([line(1), line(2) + line(3), line(4)]);
  });

  it('writes a shared Buffer line as that Buffer (no copy per watcher); lines queued together are joined in order', async () => {
    const shared = Buffer.from(line(2));
    const outputs = [new FakeOutput(1000), new FakeOutput(1000)];
    const writers = outputs.map((output) => new WatchWriter(output, { maxBufferedBytes: 10_000 }));
    for (const writer of writers) writer.send(shared);
    expect(outputs[0]!.written[0]).toBe(shared);
    expect(outputs[1]!.written[0]).toBe(shared);
    // Text and bytes queued in one turn go out as one chunk, in order, and sizes are counted in bytes.
    writers[0]!.send(line(3));
    writers[0]!.send(Buffer.from('é\n'));
    expect(writers[0]!.bufferedBytes()).toBe(10 + 10 + 3);
    await new Promise(setImmediate);
    expect(outputs[0]!.written.map(String)).toEqual([line(2), line(3) + 'é\n']);
  });

  it('hands watchers that queued the same shared lines one chunk joined once', async () => {
    const lines = [1, 2, 3].map((n) => Buffer.from(line(n)));
    const outputs = [new FakeOutput(1000), new FakeOutput(1000), new FakeOutput(1000)];
    const writers = outputs.map((output) => new WatchWriter(output, { maxBufferedBytes: 10_000 }));
    // Each writes the first line at once; the next two wait for the turn (its socket still holds the first).
    for (const line of lines) for (const writer of writers) writer.send(line);
    // The third watcher's own text line makes its queue differ: it gets a chunk of its own.
    writers[2]!.send(line(4));
    await new Promise(setImmediate);
    const chunks = outputs.map((output) => output.written[1]);
    expect(chunks.map(String)).toEqual([line(2) + line(3), line(2) + line(3), line(2) + line(3) + line(4)]);
    expect(chunks[1]).toBe(chunks[0]);
    expect(chunks[2]).not.toBe(chunks[0]);
  });

  it('encodes a lazy initial list only as fast as the client reads it', () => {
    const output = new FakeOutput(30);
    const produced = jest.fn((n: number) => line(n));
    function* initial() {
      for (let n = 0; n < 100; n++) yield produced(n);
    }
    const writer = new WatchWriter(output, { maxBufferedBytes: 100 });
    writer.sendLazily(initial());
    // Three 10-character lines fill the 30-character socket buffer; nothing more is produced.
    expect(produced).toHaveBeenCalledTimes(3);
    expect(writer.backlogged).toBe(true);
    output.read();
    expect(produced).toHaveBeenCalledTimes(6);
  });

  it('delivers everything in order to a reader that keeps up, live lines after the initial list', async () => {
    const output = new FakeOutput(25);
    const writer = new WatchWriter(output, { maxBufferedBytes: 1000 });
    writer.sendLazily(Array.from({ length: 50 }, (_, n) => line(n)));
    for (let n = 50; n < 60; n++) writer.send(line(n));
    while (writer.backlogged) {
      output.read();
      await new Promise(setImmediate);
    }
    expect(output.written.join('')).toEqual(Array.from({ length: 60 }, (_, n) => line(n)).join(''));
    // The initial list one line per write (produced as the client reads); the live lines queued behind it
    // together, once the list is out.
    expect(output.written.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, n) => line(n)));
    expect(output.written.length).toBeLessThan(60);
    expect(output.destroyed).toBe(false);
  });

  it('cuts off a reader whose unread output would exceed the cap: destroyed, reported, nothing more written', () => {
    const output = new FakeOutput(20);
    const onSlowReader = jest.fn();
    const writer = new WatchWriter(output, { maxBufferedBytes: 100, onSlowReader });
    for (let n = 0; n < 20; n++) writer.send(line(n));
    expect(output.destroyed).toBe(true);
    expect(onSlowReader).toHaveBeenCalledTimes(1);
    expect(onSlowReader.mock.calls[0][0]).toBeGreaterThan(100);
    const written = output.written.length;
    writer.send(line(99));
    output.read();
    expect(output.written.length).toBe(written);
  });

  it('counts what Node buffers for the socket against the cap, not only its own queue', () => {
    const output = new FakeOutput(Infinity); // never reports full: everything lands in writableLength
    const writer = new WatchWriter(output, { maxBufferedBytes: 50 });
    for (let n = 0; n < 6; n++) writer.send(line(n));
    expect(output.destroyed).toBe(true);
  });

  it('accepts a single line larger than the cap into an empty buffer', () => {
    const output = new FakeOutput(10);
    const writer = new WatchWriter(output, { maxBufferedBytes: 100 });
    writer.send('x'.repeat(500) + '\n');
    expect(output.destroyed).toBe(false);
    expect(output.written).toHaveLength(1);
  });

  it('does not cut off a lazy initial list, however large, while the client reads', () => {
    const output = new FakeOutput(100);
    const writer = new WatchWriter(output, { maxBufferedBytes: 200 });
    writer.sendLazily(Array.from({ length: 1000 }, (_, n) => line(n)));
    while (writer.backlogged) output.read();
    expect(output.written).toHaveLength(1000);
    expect(output.destroyed).toBe(false);
  });

  it('yields to the event loop after maxBytesPerTurn, then carries on in order', async () => {
    const output = new FakeOutput(Infinity);
    const writer = new WatchWriter(output, { maxBufferedBytes: Infinity, maxBytesPerTurn: 50 });
    writer.sendLazily(Array.from({ length: 20 }, (_, n) => line(n)));
    writer.send(line(20));
    expect(output.written).toHaveLength(5);
    expect(writer.backlogged).toBe(true);
    while (writer.backlogged) await new Promise((resolve) => setImmediate(resolve));
    expect(output.written).toEqual(Array.from({ length: 21 }, (_, n) => line(n)));
  });

  it('ends the stream when producing a line fails, instead of throwing from a drain event', () => {
    const output = new FakeOutput(10);
    const onError = jest.fn();
    const writer = new WatchWriter(output, { maxBufferedBytes: 100, onError });
    function* failing() {
      yield line(1);
      throw new Error('boom');
    }
    writer.sendLazily(failing());
    expect(() => output.read()).not.toThrow();
    expect(output.destroyed).toBe(true);
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it('finish() hands the lines queued for the next turn to the socket before it stops (an ERROR before the end)', () => {
    const output = new FakeOutput(1000);
    const writer = new WatchWriter(output, { maxBufferedBytes: 10_000 });
    writer.send(line(1));
    writer.send(line(2));
    writer.send('{"type":"ERROR"}\n');
    writer.finish();
    expect(output.written).toEqual([line(1), line(2) + '{"type":"ERROR"}\n']);
    writer.send(line(3));
    expect(output.written).toHaveLength(2);
  });

  it('close() drops what is queued and stops listening for drain', () => {
    const output = new FakeOutput(10);
    const writer = new WatchWriter(output, { maxBufferedBytes: 1000 });
    writer.send(line(1));
    writer.send(line(2));
    writer.close();
    expect(writer.bufferedBytes()).toBe(10);
    expect(output.listenerCount('drain')).toBe(0);
  });
});

describe('watchTimeoutSeconds', () => {
  const query = (value?: string) => new URLSearchParams(value === undefined ? '' : { timeoutSeconds: value });

  it('clamps values beyond the server maximum (setTimeout would overflow and end the watch at once)', () => {
    expect(watchTimeoutSeconds(query('99999999999'), 3600)).toBe(3600);
    expect(watchTimeoutSeconds(query('99999999999999999999999'), 3600)).toBe(3600);
    expect(watchTimeoutSeconds(query('3601'), 3600)).toBe(3600);
    expect(watchTimeoutSeconds(query('5'), 3600)).toBe(5);
  });

  it('uses the randomised default when absent or 0, as Kubernetes does', () => {
    expect(watchTimeoutSeconds(query(), 3600, () => 0)).toBe(1800);
    expect(watchTimeoutSeconds(query('0'), 3600, () => 1)).toBe(3600);
    expect(watchTimeoutSeconds(query(''), 3600, () => 0.5)).toBe(2700);
  });

  it.each(['-1', '1.5', 'abc', '1e3', ' 5', '0x10', '-0'])('refuses %j with a 400 naming the parameter', (value) => {
    let error: unknown;
    try {
      watchTimeoutSeconds(query(value), 3600);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe(400);
    expect((error as ApiError).message).toContain('timeoutSeconds');
  });
});
