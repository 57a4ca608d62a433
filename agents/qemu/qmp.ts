// A small QMP client (QEMU Machine Protocol) over a unix socket: the greeting, qmp_capabilities, commands with
// ids and a timeout each, and asynchronous events. QMP is newline-delimited JSON in both directions.
//
// A `-chardev socket,server=on` QMP monitor serves one client at a time, so the driver connects for an
// operation and closes afterwards; a second client waits (in the listen backlog) until the first leaves, which
// connect()'s timeout bounds.
import net from 'node:net';
import { EventEmitter } from 'node:events';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** QEMU answered a command with {"error": {class, desc}}. */
export class QmpCommandError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = 'QmpCommandError';
  }
}

/** The socket could not be reached, closed, or did not answer in time. */
export class QmpConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QmpConnectionError';
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class QmpClient extends EventEmitter {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closedError: Error | undefined;
  /** The greeting's QMP.version.qemu, e.g. { major: 7, minor: 2, micro: 22 }. */
  version: { major: number; minor: number; micro: number } | undefined;

  private constructor(private readonly socket: net.Socket) {
    super();
  }

  /** Connects, reads the greeting and negotiates capabilities, all within timeoutMs. */
  static connect(socketPath: string, { timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<QmpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: socketPath });
      const client = new QmpClient(socket);
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(() => fail(new QmpConnectionError(`QMP ${socketPath}: no greeting within ${timeoutMs} ms`)), timeoutMs);
      socket.once('error', (error) => fail(new QmpConnectionError(`QMP ${socketPath}: ${error.message}`)));
      socket.once('close', () => fail(new QmpConnectionError(`QMP ${socketPath}: closed before the greeting`)));
      client.once('greeting', (greeting: { QMP?: { version?: { qemu?: QmpClient['version'] } } }) => {
        client.version = greeting.QMP?.version?.qemu;
        client
          .execute('qmp_capabilities', undefined, { timeoutMs: Math.max(1, timeoutMs) })
          .then(() => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            socket.removeAllListeners('error');
            socket.removeAllListeners('close');
            client.attach();
            resolve(client);
          })
          .catch((error: Error) => fail(error));
      });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => client.receive(chunk));
    });
  }

  /** After the handshake: errors and close fail every pending command. */
  private attach(): void {
    this.socket.on('error', (error) => this.fail(new QmpConnectionError(`QMP: ${error.message}`)));
    this.socket.on('close', () => this.fail(new QmpConnectionError('QMP connection closed')));
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.reject(new QmpConnectionError(`QMP ${pending.command}: ${error.message}`));
    }
    this.emit('close', error);
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let newline = this.buffer.indexOf('\n'); newline >= 0; newline = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (!line) continue;
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.socket.destroy(new Error(`QMP: not JSON: ${line.slice(0, 200)}`));
        return;
      }
      if ('QMP' in message) this.emit('greeting', message);
      else if (typeof message.event === 'string') this.emit('event', message as unknown as QmpEvent);
      else if ('id' in message) this.settle(message);
    }
  }

  private settle(message: Record<string, unknown>): void {
    const pending = this.pending.get(String(message.id));
    if (!pending) return;
    this.pending.delete(String(message.id));
    clearTimeout(pending.timer);
    if ('error' in message) {
      const error = message.error as { class?: string; desc?: string };
      pending.reject(new QmpCommandError(pending.command, error.class ?? 'GenericError', error.desc ?? ''));
    } else {
      pending.resolve(message.return);
    }
  }

  /** Runs a command; resolves with its "return", rejects with QmpCommandError or QmpConnectionError. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, { timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closedError) return Promise.reject(new QmpConnectionError(`QMP ${command}: ${this.closedError.message}`));
    const id = `photon-${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpConnectionError(`QMP ${command}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject, timer });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Resolves with the next event of that name, or undefined after timeoutMs (or when the connection closes). */
  waitEvent(name: string, timeoutMs: number): Promise<QmpEvent | undefined> {
    return new Promise((resolve) => {
      const done = (event: QmpEvent | undefined) => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
        resolve(event);
      };
      const onEvent = (event: QmpEvent) => {
        if (event.event === name) done(event);
      };
      const onClose = () => done(undefined);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  close(): void {
    this.socket.destroy();
    this.fail(new QmpConnectionError('QMP connection closed by the client'));
  }
}
