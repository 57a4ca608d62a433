// Child processes started by test/env. Every process is tracked so that a test file's afterAll (and, as a
// last resort, this process's exit) kills whatever it started: tests never leak servers.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout/stderr, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (crash simulation); resolves when the process has exited. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

const running = new Set<ManagedProcess>();

process.on('exit', () => {
  for (const managed of running) managed.child.kill('SIGKILL');
});

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; logFile?: string } = {},
): ManagedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buffer = '';
  const keep = (chunk: Buffer) => {
    buffer += chunk.toString();
    if (buffer.length > 200_000) buffer = buffer.slice(-100_000);
    if (options.logFile) fs.appendFileSync(options.logFile, chunk);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', (error) => {
      buffer += `\n[spawn error] ${error.message}`;
      resolve(null);
    });
  });
  const managed: ManagedProcess = {
    name,
    child,
    exited,
    output: () => buffer,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return void running.delete(managed);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      running.delete(managed);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      running.delete(managed);
    },
  };
  running.add(managed);
  void exited.then(() => running.delete(managed));
  return managed;
}

/**
 * Whether a process runs. A zombie does not: daemonized processes (QEMU) are reparented to PID 1, and the PID 1
 * of a container may never reap them, so kill(pid, 0) alone would call a dead one alive.
 */
export function processRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Thrown by a waitFor check when waiting longer cannot help (the process being waited on has exited). */
export class WaitAborted extends Error {}

/**
 * Polls check until it returns a truthy value or the deadline passes (then throws with the last error).
 * A check that throws is retried, except with WaitAborted, which ends the wait at once.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 15000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result) return result as T;
    } catch (error) {
      if (error instanceof WaitAborted) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
