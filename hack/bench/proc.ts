// What a bench reads of its processes from /proc: a process tree (the API server's workers, the launcher's
// component), its resident memory and the CPU it has used.
import fs from 'node:fs/promises';

/**
 * The fields of /proc/PID/stat after the command name (state first: field 3 of proc(5) is index 0), or none for
 * a process that is gone. The name is cut at the last `)`: it may itself hold spaces and parentheses.
 */
async function statFields(pid: number | string): Promise<string[]> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : [];
}

/** A process and its descendants (the API server's workers, the launcher's component). */
async function processTree(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = Number((await statFields(entry))[1]);
    if (parent) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const visit = (current: number) => {
    tree.push(current);
    for (const child of children.get(current) ?? []) visit(child);
  };
  visit(pid);
  return tree;
}

/** Resident memory of a process tree, in MiB. */
export async function rssMiB(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  let total = 0;
  for (const member of await processTree(pid)) {
    const status = await fs.readFile(`/proc/${member}/status`, 'utf8').catch(() => '');
    total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  }
  return total;
}

/** CPU seconds (user + system) a process tree has used so far. */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  let ticks = 0;
  for (const member of await processTree(pid)) {
    const fields = await statFields(member);
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / 100;
}
