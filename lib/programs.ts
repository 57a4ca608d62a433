// Whether a program is installed: looked up on PATH without a shell (components check what they need before
// starting anything, and say what to install).
import fs from 'node:fs';
import path from 'node:path';

export function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', program), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The prefix that makes a child die with this process: setpriv (util-linux) sets PR_SET_PDEATHSIG to SIGKILL and
 * execs in place, so the child's pid is the program's and the kernel kills it when its parent dies, even by SIGKILL.
 */
export const DIE_WITH_PARENT = ['setpriv', '--pdeathsig', 'KILL', '--'] as const;
