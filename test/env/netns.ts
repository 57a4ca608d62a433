// Network namespaces for tests (the "hosts" of a test network). Names are unique per process and call
// (pid + counter + random), so test files running in parallel on one machine never collide. Every namespace
// created here is tracked: remove() deletes it, and as a last resort the process's exit handler deletes
// leftovers synchronously. Deleting a namespace also destroys the veth
// ends inside it. Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN) and iproute2.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { run, type ExecResult } from '../../agents/ovn-local/commands.ts';
import { startProcess, type ManagedProcess } from './process.ts';

export type { ExecResult };

const live = new Set<string>();
let counter = 0;

process.on('exit', () => {
  for (const name of live) {
    try {
      execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

/** A name unique on this machine for this run: <prefix><pid36><n36><rand>, at most 15 characters (an interface name's limit; the prefix is shortened). */
export function uniqueName(prefix = 'pc'): string {
  counter++;
  const suffix = `${process.pid.toString(36)}${counter.toString(36)}${randomBytes(2).toString('hex')}`;
  return `${prefix.slice(0, Math.max(0, 15 - suffix.length))}${suffix}`;
}

export interface Netns {
  readonly name: string;
  /** Runs a command inside the namespace (ip netns exec); resolves with exit code and output, never rejects on exit codes. */
  exec(command: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running command inside the namespace as a managed process (stopped by remove()). */
  spawn(name: string, command: string, args: readonly string[], options?: { env?: NodeJS.ProcessEnv; logFile?: string }): ManagedProcess;
  /** Stops what spawn() started and deletes the namespace (and the interfaces in it). Idempotent. */
  remove(): Promise<void>;
}

export async function createNetns(prefix = 'pcns'): Promise<Netns> {
  const name = uniqueName(prefix);
  const added = await run('ip', ['netns', 'add', name]);
  if (added.code !== 0) throw new Error(`ip netns add ${name} failed: ${added.stderr.trim()}`);
  live.add(name);
  const processes = new Set<ManagedProcess>();
  const netns: Netns = {
    name,
    exec: (command, args, options = {}) => run('ip', ['netns', 'exec', name, command, ...args], options),
    spawn(processName, command, args, options = {}) {
      // `ip netns exec` execs the command in place, so the child's pid is the command's own.
      const managed = startProcess(processName, 'ip', ['netns', 'exec', name, command, ...args], options);
      processes.add(managed);
      return managed;
    },
    async remove() {
      await Promise.all([...processes].map((managed) => managed.stop(2000)));
      processes.clear();
      if (!live.has(name)) return;
      const deleted = await run('ip', ['netns', 'delete', name]);
      if (deleted.code !== 0 && !/No such file/.test(deleted.stderr)) throw new Error(`ip netns delete ${name} failed: ${deleted.stderr.trim()}`);
      live.delete(name);
    },
  };
  const up = await netns.exec('ip', ['link', 'set', 'lo', 'up']);
  if (up.code !== 0) {
    await netns.remove();
    throw new Error(`cannot bring lo up in ${name}: ${up.stderr.trim()}`);
  }
  return netns;
}

/** Namespaces this process created and has not removed yet. */
export function liveNetns(): string[] {
  return [...live];
}
