// HAProxy's processes as /proc shows them: which live (non-zombie: PID 1 here may not reap) processes carry
// a proxy's configuration path, and whether a process runs in a given named network namespace (a master left
// in a namespace that was deleted and made again must be restarted in the new one).
import fs from 'node:fs/promises';

export /** Live (non-zombie) processes with `marker` as one of their arguments. */
async function processesWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const [stat, cmdline] = await Promise.all([fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''), fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')]);
    if (!stat || /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue;
    if (cmdline.split('\0').includes(marker)) pids.push(Number(entry));
  }
  return pids;
}

/** Whether the process runs in the named network namespace (/run/netns/<name>): same device and inode. */
export async function sameNetns(pid: number, name: string): Promise<boolean> {
  const [own, named] = await Promise.all([fs.stat(`/proc/${pid}/ns/net`).catch(() => undefined), fs.stat(`/run/netns/${name}`).catch(() => undefined)]);
  return own !== undefined && named !== undefined && own.dev === named.dev && own.ino === named.ino;
}
