// Generates the TypeScript API types in apis/<area>/<version>/ from the CRDs in crds/.
//
//   node --import tsx hack/codegen/generate-types.ts           write the files (npm run generate)
//   node --import tsx hack/codegen/generate-types.ts --check   write nothing; exit 1 listing every stale,
//                                                              missing or extra file (npm run verify-generated)
//
// Per kind: apis/<area>/<version>/<kind-lowercase>.ts with <Kind>, <Kind>Spec, <Kind>Status, nested
// interfaces, <Kind>List and the <Kind>Resource constant; per group version an index.ts re-exporting them.
// Output depends only on crds/ and this folder (no timestamps, files and index entries sorted), so --check
// is exact. Generated files are recognised by their banner: a file under apis/ that carries it but is no
// longer produced (a kind was removed or renamed) is "extra" and gets deleted on write.

import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCrds } from './crd.ts';
import { BANNER_PREFIX, renderIndex, renderKind } from './render.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Repository-relative path → content of every file the generator produces. */
export async function generate(root: string = ROOT): Promise<Map<string, string>> {
  const crds = await loadCrds(root);
  const files = new Map<string, string>();
  const indexes = new Map<string, { group: string; version: string; modules: string[] }>();
  const owners = new Map<string, string>();
  for (const crd of crds) {
    for (const { name: version } of crd.versions) {
      const dir = `apis/${crd.area}/${version}`;
      const module = `${crd.kind.toLowerCase()}.ts`;
      const file = `${dir}/${module}`;
      const previous = owners.get(file);
      if (previous) throw new Error(`${crd.file} and ${previous} both generate ${file}`);
      owners.set(file, crd.file);
      files.set(file, await renderKind(crd, version));
      const index = indexes.get(dir) ?? { group: crd.group, version, modules: [] };
      if (index.group !== crd.group) throw new Error(`${dir} would mix groups ${index.group} and ${crd.group}`);
      index.modules.push(module);
      indexes.set(dir, index);
    }
  }
  for (const [dir, { group, version, modules }] of indexes) {
    files.set(`${dir}/index.ts`, renderIndex(group, version, modules));
  }
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Repository-relative paths of the files under apis/ that carry the generator's banner. */
async function existingGenerated(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(child);
      else if (entry.name.endsWith('.ts')) {
        const text = await readFile(path.join(root, child), 'utf8');
        if (text.startsWith(BANNER_PREFIX)) found.push(child);
      }
    }
  };
  await walk('apis');
  return found.sort();
}

export interface Drift {
  stale: string[];
  missing: string[];
  extra: string[];
}

export async function diff(expected: Map<string, string>, root: string = ROOT): Promise<Drift> {
  const drift: Drift = { stale: [], missing: [], extra: [] };
  for (const [file, content] of expected) {
    let actual: string | undefined;
    try {
      actual = await readFile(path.join(root, file), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (actual === undefined) drift.missing.push(file);
    else if (actual !== content) drift.stale.push(file);
  }
  drift.extra = (await existingGenerated(root)).filter((f) => !expected.has(f));
  return drift;
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length) {
    console.error(`usage: generate-types.ts [--check]; unknown arguments: ${unknown.join(' ')}`);
    return 2;
  }
  const expected = await generate();
  const drift = await diff(expected);
  const count = drift.stale.length + drift.missing.length + drift.extra.length;
  if (check) {
    if (count === 0) {
      console.log(`generated types are up to date (${expected.size} files)`);
      return 0;
    }
    for (const f of drift.stale) console.error(`stale:   ${f}`);
    for (const f of drift.missing) console.error(`missing: ${f}`);
    for (const f of drift.extra) console.error(`extra:   ${f}`);
    console.error(`${count} generated file(s) out of date; run: node --import tsx hack/codegen/generate-types.ts`);
    return 1;
  }
  // Only touch what changed, so editors and watchers see no churn.
  for (const f of [...drift.stale, ...drift.missing]) {
    await mkdir(path.dirname(path.join(ROOT, f)), { recursive: true });
    await writeFile(path.join(ROOT, f), expected.get(f)!);
    console.log(`wrote   ${f}`);
  }
  for (const f of drift.extra) {
    await rm(path.join(ROOT, f));
    console.log(`removed ${f}`);
  }
  console.log(count === 0 ? `generated types are up to date (${expected.size} files)` : `${count} file(s) updated`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(2);
    },
  );
}
