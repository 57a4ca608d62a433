// Protocol behaviour of OvsdbClient that a healthy ovsdb-server never shows: a scripted peer on a unix socket
// answers like ovsdb-server, then misbehaves on demand (goes silent, drops the connection, asks for echo,
// writes messages in odd chunks). The real-server behaviour is covered in test/ovn/ovsdb-client.test.ts.
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { OvsdbClient } from './client.ts';
import { OvsdbConnectionError, OvsdbRpcError, OvsdbTransactionError } from './errors.ts';
import { JsonStreamParser } from './framing.ts';
import { op } from './operations.ts';

const SCHEMA = {
  name: 'Test',
  version: '1.0.0',
  tables: {
    Thing: {
      columns: {
        name: { type: 'string' },
        tags: { type: { key: 'string', min: 0, max: 'unlimited' } },
        peer: { type: { key: 'string', min: 0, max: 1 } },
      },
      isRoot: true,
    },
  },
};
const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';

interface Message {
  id?: unknown;
  method?: string;
  params?: unknown[];
  result?: unknown;
  error?: unknown;
}

/** A scripted OVSDB peer. `rows` is the table content it reports in monitor snapshots. */
class FakeServer {
  readonly socketPath: string;
  readonly server: net.Server;
  readonly connections = new Set<net.Socket>();
  readonly received: Message[] = [];
  rows: Record<string, Record<string, unknown>> = { [U1]: { name: 'one', tags: ['set', ['a']], peer: ['set', []] } };
  silent = false;
  /** Whether it speaks monitor_cond (update2), as ovsdb-server ≥ 2.6 does; otherwise it refuses the method. */
  update2 = false;
  monitorId: unknown;
  onTransact: (socket: net.Socket, message: Message) => void = (socket, message) => this.reply(socket, message.id, [{}]);

  private constructor(socketPath: string) {
    this.socketPath = socketPath;
    this.server = net.createServer((socket) => this.accept(socket));
  }

  static async start(): Promise<FakeServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-ovsdb-fake-'));
    const fake = new FakeServer(path.join(dir, 'db.sock'));
    await new Promise<void>((resolve) => fake.server.listen(fake.socketPath, resolve));
    return fake;
  }

  get endpoint(): string {
    return `unix:${this.socketPath}`;
  }

  private accept(socket: net.Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => undefined);
    const parser = new JsonStreamParser();
    socket.on('data', (chunk) => {
      for (const message of parser.push(chunk) as Message[]) {
        this.received.push(message);
        if (this.silent) continue;
        if (message.method === 'get_schema') this.reply(socket, message.id, SCHEMA);
        else if (message.method === 'monitor_cond') {
          if (!this.update2) {
            this.reply(socket, message.id, null, 'unknown method');
            continue;
          }
          this.monitorId = message.params![1];
          const snapshot: Record<string, unknown> = {};
          for (const [id, row] of Object.entries(this.rows)) snapshot[id] = { initial: row };
          this.reply(socket, message.id, { Thing: snapshot });
        } else if (message.method === 'monitor') {
          this.monitorId = message.params![1];
          const snapshot: Record<string, unknown> = {};
          for (const [id, row] of Object.entries(this.rows)) snapshot[id] = { new: row };
          this.reply(socket, message.id, { Thing: snapshot });
        } else if (message.method === 'echo') this.reply(socket, message.id, message.params);
        else if (message.method === 'transact') this.onTransact(socket, message);
      }
    });
  }

  reply(socket: net.Socket, id: unknown, result: unknown, error: unknown = null): void {
    socket.write(JSON.stringify({ id, result, error }));
  }

  update(table: string, updates: Record<string, unknown>): string {
    return JSON.stringify({ id: null, method: 'update', params: [this.monitorId, { [table]: updates }] });
  }

  update2Message(table: string, updates: Record<string, unknown>): string {
    return JSON.stringify({ id: null, method: 'update2', params: [this.monitorId, { [table]: updates }] });
  }

  async stop(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(path.dirname(this.socketPath), { recursive: true, force: true });
  }
}

let fake: FakeServer | undefined;
let client: OvsdbClient | undefined;

afterEach(async () => {
  await client?.close();
  await fake?.stop();
  client = undefined;
  fake = undefined;
});

/** What a client could leave behind: the process's sockets, timers and pending connects, by kind. */
const LEAKABLE = ['PipeWrap', 'TCPWrap', 'Timeout', 'PipeConnectWrap'] as const;
function leakable(): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(LEAKABLE.map((kind) => [kind, 0]));
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind]!++;
  return counts;
}

/** A client connected to a fake server that then goes away for good (the client keeps retrying with backoff); its states so far. */
async function connectThenLosePeer(): Promise<string[]> {
  fake = await FakeServer.start();
  client = await OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Thing: 'all' }, initialBackoffMs: 5, maxBackoffMs: 20 });
  const states: string[] = [];
  client.onStateChange((state) => states.push(state));
  const serverClosed = new Promise<void>((resolve) => fake!.server.close(() => resolve()));
  for (const socket of fake.connections) socket.destroy();
  await serverClosed;
  await until(() => states.includes('disconnected'));
  return states;
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('OvsdbClient protocol handling', () => {
  it('loads the snapshot with schema-typed rows', async () => {
    fake = await FakeServer.start();
    client = await OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Thing: 'all' } });
    expect(client.get('Thing', U1)).toEqual({ _uuid: U1, name: 'one', tags: ['a'] });
    // This server refuses monitor_cond (as ovsdb-server before 2.6): the same request by plain monitor.
    expect(fake.received.map((message) => message.method).filter((method) => method?.startsWith('monitor'))).toEqual(['monitor_cond', 'monitor']);
    const monitor = fake.received.find((message) => message.method === 'monitor')!;
    expect(monitor.params).toEqual(['Test', expect.any(String), { Thing: { columns: ['name', 'tags', 'peer'] } }]);
  });

  it('with monitor_cond, applies update2: set and optional columns by their changed elements, scalars by value', async () => {
    fake = await FakeServer.start();
    fake.update2 = true;
    fake.rows = { [U1]: { name: 'one', tags: ['set', ['a', 'b']], peer: ['set', []] } };
    client = await OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Thing: 'all' } });
    expect(fake.received.some((message) => message.method === 'monitor')).toBe(false);
    expect(client.get('Thing', U1)).toEqual({ _uuid: U1, name: 'one', tags: ['a', 'b'] });
    const socket = [...fake.connections][0]!;
    const seen: Array<[string, unknown, unknown]> = [];
    client.onUpdate((_table, id, old, row) => seen.push([id, old, row]));
    // tags (a set): remove a, add c — the symmetric difference; peer (optional) and name: their new values.
    // Then peer replaced and tags emptied, peer cleared; then an insert (columns at their default left out,
    // as ovsdb-server does) and a delete.
    socket.write(fake.update2Message('Thing', { [U1]: { modify: { tags: ['set', ['a', 'c']], peer: 'x', name: 'uno' } } }));
    await until(() => client!.get('Thing', U1)?.name === 'uno');
    expect(client.get('Thing', U1)).toEqual({ _uuid: U1, name: 'uno', tags: ['b', 'c'], peer: 'x' });
    socket.write(fake.update2Message('Thing', { [U1]: { modify: { peer: 'y', tags: ['set', ['b', 'c']] } } }));
    await until(() => client!.get('Thing', U1)?.peer === 'y');
    expect(client.get('Thing', U1)).toEqual({ _uuid: U1, name: 'uno', tags: [], peer: 'y' });
    socket.write(fake.update2Message('Thing', { [U1]: { modify: { peer: ['set', []] } } }));
    await until(() => client!.get('Thing', U1)?.peer === undefined);
    socket.write(fake.update2Message('Thing', { [U2]: { insert: { peer: 'z' } }, [U1]: { delete: null } }));
    await until(() => client!.get('Thing', U1) === undefined);
    expect(client.get('Thing', U2)).toEqual({ _uuid: U2, name: '', tags: [], peer: 'z' });
    expect(seen.map(([id, old, row]) => [id, old !== undefined, row !== undefined])).toEqual([
      [U1, true, true],
      [U1, true, true],
      [U1, true, true],
      [U2, false, true],
      [U1, true, false],
    ]);
  });

  it('answers the server’s echo requests with the same params', async () => {
    fake = await FakeServer.start();
    client = await OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Thing: 'all' } });
    const socket = [...fake.connections][0]!;
    socket.write(JSON.stringify({ id: 'echo-7', method: 'echo', params: ['x', 1] }));
    await until(() => fake!.received.some((message) => message.id === 'echo-7'));
    expect(fake.received.find((message) => message.id === 'echo-7')).toEqual({ id: 'echo-7', result: ['x', 1], error: null });
  });

  it('applies updates that arrive in the same read as the reply, before resolving transact', async () => {
    fake = await FakeServer.start();
    client = await OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Thing: 'all' } });
    fake.onTransact = (socket, message) => {
      const text =
        fake!.update('Thing', { [U2]: { new: { name: 'two', tags: ['set', []], peer: 'one' } }, [U1]: { old: { tags: ['set', ['a']] }, new: { name: 'one', tags: ['set', ['a', 'b']], peer: ['set', []] } } }) +
        JSON.stringify({ id: message.id, result: [{ uuid: ['uuid', U2] }], error: null });
      // Deliver in three odd pieces.
      socket.write(text.slice(0, 17));
      setTimeout(() => socket.write(text.slice(17, text.length - 5)), 5);
      setTimeout(() => socket.write(text.slice(text.length - 5)), 10);
    };
    const events: string[] = [];
    client.onUpdate((_table, id, oldRow, newRow) => events.push(`${id === U1 ? 'one' : 'two'}:${oldRow ? 'old' : '-'}:${newRow ? 'new' : '-'}`));
    const [result] = await client.transact([op.insert('Thing', { name: 'two', peer: 'one' })]);
    expect(result).toEqual({ uuid: U2 });
    expect(client.get('Thing', U2)).toEqual({ _uuid: U2, name: 'two', tags: [], peer: 'one' });
    expect(client.get('Thing', U1)!.tags).toEqual(['a', 'b']);
    expect(events.sort()).toEqual(['one:old:new', 'two:-:new']);
    // Nothing else was needed: no barrier echo after the reply.
    expect(fake.received.filter((message) => message.method === 'echo')).toEqual([]);
  });

  it('falls back to an echo barrier when a reply comes before the update of an inserted row', async () => {
    fake = await FakeServer.start();
    client = await OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Thing: 'all' } });
    fake.onTransact = (socket, message) => {
      fake!.reply(socket, message.id, [{ uuid: ['uuid', U2] }]);
      // The update follows later; the echo reply (sent by the fake after it) must not overtake it.
      setTimeout(() => socket.write(fake!.update('Thing', { [U2]: { new: { name: 'late', tags: ['set', []], peer: ['set', []] } } })), 30);
    };
    const originalEcho = fake.reply.bind(fake);
    fake.reply = (socket, id, result, error) => {
      const isEcho = fake!.received.some((message) => message.id === id && message.method === 'echo');
      if (isEcho) setTimeout(() => originalEcho(socket, id, result, error), 60);
      else originalEcho(socket, id, result, error);
    };
    await client.transact([op.insert('Thing', { name: 'late' })]);
    expect(client.get('Thing', U2)?.name).toBe('late');
  });

  it('turns result errors into OvsdbTransactionError and JSON-RPC errors into OvsdbRpcError', async () => {
    fake = await FakeServer.start();
    client = await OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Thing: 'all' } });
    fake.onTransact = (socket, message) => fake!.reply(socket, message.id, [{}, { error: 'constraint violation', details: 'name must be unique' }]);
    const failure = await client.transact([op.comment('a'), op.insert('Thing', { name: 'x' })]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OvsdbTransactionError);
    expect(failure).toMatchObject({ index: 1, error: 'constraint violation', details: 'name must be unique' });
    fake.onTransact = (socket, message) => fake!.reply(socket, message.id, null, { error: 'syntax error', details: 'bad op' });
    await expect(client.transact([op.comment('b')])).rejects.toBeInstanceOf(OvsdbRpcError);
    // Schema checks happen before anything is sent.
    await expect(client.transact([op.insert('Thing', { nope: 1 })])).rejects.toThrow(/has no column nope/);
  });

  it('drops a silent connection after the probe interval and reconnects', async () => {
    fake = await FakeServer.start();
    client = await OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Thing: 'all' }, probeIntervalMs: 100, maxBackoffMs: 50 });
    const states: string[] = [];
    client.onStateChange((state) => states.push(state));
    fake.silent = true;
    // A transaction in flight on the silent connection fails once the connection is declared dead.
    const pending = client.transact([op.comment('lost')]);
    await expect(pending).rejects.toBeInstanceOf(OvsdbConnectionError);
    expect(states[0]).toBe('disconnected');
    expect(fake.received.some((message) => message.method === 'echo')).toBe(true);
    fake.silent = false;
    await until(() => client!.connected);
    expect(states).toEqual(['disconnected', 'connected']);
  });

  it('after a dropped connection, re-monitors and reports only the differences', async () => {
    fake = await FakeServer.start();
    client = await OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Thing: 'all' }, maxBackoffMs: 50 });
    const events: string[] = [];
    client.onUpdate((_table, _id, oldRow, newRow) => events.push(`${(newRow ?? oldRow)!.name}:${oldRow ? 'old' : '-'}:${newRow ? 'new' : '-'}`));
    const snapshot = client.rows('Thing');
    fake.rows = { [U2]: { name: 'two', tags: ['set', []], peer: ['set', []] } };
    for (const socket of fake.connections) socket.destroy();
    await until(() => events.length === 2);
    expect(events.sort()).toEqual(['one:old:-', 'two:-:new']);
    expect([...client.rows('Thing').keys()]).toEqual([U2]);
    expect(snapshot).not.toBe(client.rows('Thing')); // replaced atomically, not edited in place
  });

  it('close() while reconnecting leaves no timers or sockets behind', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = leakable();
    const states = await connectThenLosePeer();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client!.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(states).toEqual(['disconnected', 'closed']);
    const after = leakable();
    // Nothing more than before the client existed (other tests' handles may still be closing).
    for (const kind of LEAKABLE) expect(after[kind]).toBeLessThanOrEqual(before[kind]!);
    await expect(client!.transact([op.comment('x')])).rejects.toBeInstanceOf(OvsdbConnectionError);
    fake!.stop = async () => fs.rmSync(path.dirname(fake!.socketPath), { recursive: true, force: true });
  });

  it('an aborted connect() gives up at once and leaves no timers or sockets behind', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = leakable();
    // Nobody listens: connect() would retry with backoff for its whole 30 s budget (what kept a stopped
    // controller manager's process, and jest's workers, alive after their tests).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovsdb-abort-'));
    try {
      const aborter = new AbortController();
      const started = Date.now();
      const connecting = OvsdbClient.connect({ endpoint: `unix:${dir}/nobody.sock`, database: 'Test', connectTimeoutMs: 30_000, initialBackoffMs: 50, maxBackoffMs: 200, signal: aborter.signal });
      await new Promise((resolve) => setTimeout(resolve, 300)); // a few attempts, then a backoff sleep or a dial
      aborter.abort();
      await expect(connecting).rejects.toThrow(/connecting to OVSDB Test was aborted/);
      expect(Date.now() - started).toBeLessThan(5_000);
      await new Promise((resolve) => setImmediate(resolve));
      const after = leakable();
      for (const kind of LEAKABLE) expect(after[kind]).toBeLessThanOrEqual(before[kind]!);
      // Aborted before it starts: rejects without dialling.
      await expect(OvsdbClient.connect({ endpoint: `unix:${dir}/nobody.sock`, database: 'Test', signal: AbortSignal.abort() })).rejects.toThrow(/was aborted/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('close() with a reconnect dial in flight resolves only once its socket and connect timer are gone', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = leakable();
    await connectThenLosePeer();
    // Close as soon as the next reconnect attempt has dialled: a microtask runs after the attempt's synchronous
    // part and before its unix connect's failure (delivered in a later phase of the loop).
    const dial = net.connect;
    let closing: Promise<void> | undefined;
    const closed = new Promise<void>((resolve, reject) => {
      jest.spyOn(net, 'connect').mockImplementation(((...args: Parameters<typeof net.connect>) => {
        const socket = dial(...args);
        if (!closing) queueMicrotask(() => (closing = client!.close()).then(resolve, reject));
        return socket;
      }) as typeof net.connect);
    });
    try {
      await closed; // microtasks only from close() to here: no loop turn for its socket to close by itself
    } finally {
      jest.restoreAllMocks();
    }
    // No loop turn allowed after close() resolves: whatever it left behind is still listed now.
    expect(leakable()).toEqual(before);
    fake!.stop = async () => fs.rmSync(path.dirname(fake!.socketPath), { recursive: true, force: true });
  });

  it('fails connect at once for a table the schema does not have', async () => {
    fake = await FakeServer.start();
    await expect(OvsdbClient.connect({ endpoint: fake.endpoint, database: 'Test', monitor: { Nope: 'all' } })).rejects.toThrow(/no table Nope/);
  });
});
