// The folder map as a test: every hand-written .ts/.mjs file's relative imports (static `import … from`,
// `import '…'`, `export … from`, dynamic `import()`, type-level `import('…')`, `import x = require('…')`)
// must stay inside what its layer may use. The rules, and why, are in docs/architecture.md ("Layers and what
// each may import"); change both together. Fast: it parses sources with @swc/core and starts nothing.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import swc from '@swc/core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RULES_DOC = 'docs/architecture.md, section "Layers and what each may import"';

/** Directories never scanned: dependencies, build output, local state, scratch space, VCS and CI metadata. */
const SKIPPED_DIRECTORIES = new Set(['node_modules', 'dist', 'coverage']);
const SOURCE_EXTENSIONS = ['.ts', '.mts', '.cts', '.mjs'];

/** A layer: the folder a file lives in, as the rules name it. */
type Area = 'apis' | 'lib' | 'apiserver' | 'controllers/runtime' | 'controllers' | 'agents' | 'cli' | 'hack' | 'test' | 'crds';

interface Rule {
  /** How the rule is written in docs/architecture.md. */
  title: string;
  may: Area[] | 'anything' | 'anything but hack';
}

const ALL_AREAS: Area[] = ['apis', 'lib', 'apiserver', 'controllers/runtime', 'controllers', 'agents', 'cli', 'hack', 'test', 'crds'];

const RULES: Record<Area, Rule> = {
  apis: { title: 'apis/ imports only apis/ (generated types and the hand-written meta, net, client)', may: ['apis'] },
  lib: { title: 'lib/ imports lib/ and apis/', may: ['lib', 'apis'] },
  apiserver: { title: 'apiserver/ imports apiserver/, apis/ and lib/ (never controllers/ or agents/)', may: ['apiserver', 'apis', 'lib'] },
  'controllers/runtime': { title: 'controllers/runtime/ imports itself, apis/ and lib/ (no controller, no driver)', may: ['controllers/runtime', 'apis', 'lib'] },
  controllers: { title: 'controllers/ imports controllers/, apis/, lib/ and agents/ (drivers)', may: ['controllers', 'controllers/runtime', 'apis', 'lib', 'agents'] },
  agents: { title: 'agents/ imports agents/, apis/, lib/ and controllers/runtime/ (never a controller)', may: ['agents', 'apis', 'lib', 'controllers/runtime'] },
  cli: { title: 'cli/ imports cli/, apis/ and lib/ (cli/photon.ts launches components by path and imports none of them)', may: ['cli', 'apis', 'lib'] },
  hack: { title: 'hack/ may import anything', may: 'anything' },
  test: { title: 'test/ imports anything but hack/ (hack/ may use test/env, not the other way around)', may: 'anything but hack' },
  crds: { title: 'crds/ (its schema tests) import crds/, apis/ and lib/', may: ['crds', 'apis', 'lib'] },
};

/** Unit tests beside the code (x.test.ts outside test/) may also use test/ (test/env, test/storage, …). */
const UNIT_TEST_EXTRA: Area = 'test';

/** The layer a repository-relative path (posix) belongs to, or undefined for a folder the rules do not cover. */
export function areaOf(relative: string): Area | undefined {
  const [top, second] = relative.split('/');
  if (top === 'controllers' && second === 'runtime') return 'controllers/runtime';
  return (ALL_AREAS as string[]).includes(top) && relative.includes('/') ? (top as Area) : undefined;
}

function isTestFile(relative: string): boolean {
  return /\.test\.[cm]?ts$/.test(relative);
}

function allowedAreas(from: string): Area[] | undefined {
  const area = areaOf(from);
  if (!area) return undefined;
  const { may } = RULES[area];
  const allowed = may === 'anything' ? ALL_AREAS : may === 'anything but hack' ? ALL_AREAS.filter((candidate) => candidate !== 'hack') : [...may];
  if (isTestFile(from) && area !== 'test' && !allowed.includes(UNIT_TEST_EXTRA)) allowed.push(UNIT_TEST_EXTRA);
  return allowed;
}

export interface ImportSite {
  specifier: string;
  kind: 'import' | 'export' | 'dynamic import' | 'type import' | 'import = require';
}

/** Every module specifier a source text names, with swc's parser (comments and strings are not imports). */
export function importsOf(source: string, file: string): ImportSite[] {
  const syntax = /\.m?js$/.test(file) ? { syntax: 'ecmascript' as const } : { syntax: 'typescript' as const, tsx: false };
  const module = swc.parseSync(source, { ...syntax, target: 'es2022', comments: false });
  const sites: ImportSite[] = [];
  const literal = (node: { type?: string; value?: unknown; quasis?: Array<{ cooked?: string }>; expressions?: unknown[] } | undefined): string | undefined => {
    if (!node) return undefined;
    if (node.type === 'StringLiteral' && typeof node.value === 'string') return node.value;
    if (node.type === 'TemplateLiteral' && node.expressions?.length === 0) return node.quasis?.[0]?.cooked;
    return undefined;
  };
  for (const item of module.body as unknown as Array<Record<string, any>>) {
    if (item.type === 'ImportDeclaration') sites.push({ specifier: item.source.value, kind: 'import' });
    else if ((item.type === 'ExportAllDeclaration' || item.type === 'ExportNamedDeclaration') && item.source) sites.push({ specifier: item.source.value, kind: 'export' });
    else if (item.type === 'TsImportEqualsDeclaration' && item.moduleRef?.type === 'TsExternalModuleReference') sites.push({ specifier: item.moduleRef.expression.value, kind: 'import = require' });
  }
  // Expressions and types can sit anywhere: walk the tree, but only when the text could hold one.
  if (/\bimport\s*\(/.test(source)) {
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) {
        for (const child of node) visit(child);
        return;
      }
      if (!node || typeof node !== 'object') return;
      const record = node as Record<string, any>;
      if (record.type === 'CallExpression' && record.callee?.type === 'Import') {
        const specifier = literal(record.arguments?.[0]?.expression);
        if (specifier !== undefined) sites.push({ specifier, kind: 'dynamic import' });
      } else if (record.type === 'TsImportType') {
        const specifier = literal(record.argument);
        if (specifier !== undefined) sites.push({ specifier, kind: 'type import' });
      }
      for (const [key, value] of Object.entries(record)) if (key !== 'span' && value && typeof value === 'object') visit(value);
    };
    visit(module.body);
  }
  return sites;
}

export interface Violation {
  file: string;
  specifier: string;
  kind: ImportSite['kind'];
  /** The imported file, repository-relative. */
  target: string;
  rule: string;
}

/** The rule a file's import breaks, or undefined. `from` and the result are repository-relative posix paths. */
export function checkImport(from: string, site: ImportSite): Violation | undefined {
  if (!site.specifier.startsWith('./') && !site.specifier.startsWith('../')) return undefined; // packages, node: builtins
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), site.specifier));
  const violation = (rule: string): Violation => ({ file: from, specifier: site.specifier, kind: site.kind, target, rule });
  if (target.startsWith('../')) return violation('imports stay inside the repository');
  const allowed = allowedAreas(from);
  if (!allowed) return violation(`no rule covers ${from.split('/')[0]}/: add its row to the folder map (docs/architecture.md) and to RULES here`);
  const targetArea = areaOf(target);
  if (targetArea && allowed.includes(targetArea)) return undefined;
  const area = areaOf(from)!;
  const extra = isTestFile(from) && area !== 'test' ? '; a unit test beside the code may also import test/' : '';
  return violation(RULES[area].title + extra);
}

/**
 * apiserver/storage/ holds the two backends and their unit tests only: a test there is named after a module
 * of the folder (x.test.ts beside x.ts), and no other file there is a test suite (conformance and
 * cross-component suites live in test/storage/).
 */
export function checkStorageFolder(relative: string, sites: ImportSite[], exists: (relative: string) => boolean): string | undefined {
  if (!relative.startsWith('apiserver/storage/')) return undefined;
  const name = relative.slice('apiserver/storage/'.length);
  if (isTestFile(relative)) {
    const module = name.replace(/\.test\.([cm]?ts)$/, '.$1');
    if (name.includes('/') || !exists(`apiserver/storage/${module}`)) {
      return `${relative}: a test in apiserver/storage/ must be the unit test of a module beside it (${module} does not exist there); suites and tests of several components belong in test/storage/`;
    }
    return undefined;
  }
  const suite = sites.find((site) => site.specifier === '@jest/globals' || site.specifier === 'jest' || areaOf(path.posix.normalize(path.posix.join('apiserver/storage', site.specifier))) === 'test');
  if (suite) return `${relative}: not a unit test, yet it imports ${suite.specifier}: test suites belong in test/storage/, not in apiserver/storage/`;
  return undefined;
}

function isGenerated(source: string): boolean {
  const head = source.slice(0, 300);
  return /Code generated\b/.test(head) && /DO NOT EDIT/.test(head);
}

/** Every hand-written source file, repository-relative, sorted. */
function sourceFiles(): string[] {
  const found: string[] = [];
  const walk = (directory: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, directory), { withFileTypes: true })) {
      const relative = directory ? `${directory}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        // Hidden folders (.git, .scratch, .photon, .ci) and dependencies are not the product's code.
        if (entry.name.startsWith('.') || SKIPPED_DIRECTORIES.has(entry.name)) continue;
        walk(relative);
      } else if (entry.isFile() && SOURCE_EXTENSIONS.some((extension) => entry.name.endsWith(extension)) && !entry.name.endsWith('.d.ts')) {
        found.push(relative);
      }
    }
  };
  walk('');
  return found.sort();
}

describe('import rules (docs/architecture.md)', () => {
  it('finds imports of every form, and only real ones', () => {
    const source = [
      `import a from './a.ts';`,
      `import type { B } from '../b.ts';`,
      `import './side-effect.ts';`,
      `export * from './c.ts';`,
      `export { d } from './d.ts';`,
      `const f = await import('./f.ts');`,
      'const t = await import(`./t.ts`);',
      `type G = import('./g.ts').G;`,
      `// import z from './in-a-comment.ts'`,
      `const text = "import y from './in-a-string.ts'";`,
      `const computed = await import(text);`,
    ].join('\n');
    expect(importsOf(source, 'x.ts').map((site) => `${site.kind} ${site.specifier}`).sort()).toEqual(
      ['import ./a.ts', 'import ../b.ts', 'import ./side-effect.ts', 'export ./c.ts', 'export ./d.ts', 'dynamic import ./f.ts', 'dynamic import ./t.ts', 'type import ./g.ts'].sort(),
    );
  });

  it('applies the folder map', () => {
    const broken = (from: string, specifier: string) => checkImport(from, { specifier, kind: 'import' })?.rule;
    expect(broken('apis/meta/types.ts', '../../lib/logging.ts')).toMatch(/^apis\//);
    expect(broken('apis/network/v1alpha1/vpc.ts', '../../meta/types.ts')).toBeUndefined();
    expect(broken('lib/cli.ts', '../apiserver/errors.ts')).toMatch(/^lib\//);
    expect(broken('apiserver/server.ts', '../controllers/manager.ts')).toMatch(/^apiserver\//);
    expect(broken('apiserver/server.ts', '../test/env/ports.ts')).toMatch(/^apiserver\//);
    expect(broken('apiserver/storage/embedded.test.ts', '../../test/storage/conformance.ts')).toBeUndefined();
    expect(broken('controllers/runtime/controller.ts', '../network/vpc.ts')).toMatch(/^controllers\/runtime\//);
    expect(broken('controllers/runtime/controller.ts', '../../agents/ovsdb/index.ts')).toMatch(/^controllers\/runtime\//);
    expect(broken('controllers/network/vpc.ts', '../../agents/ovn-nb/index.ts')).toBeUndefined();
    expect(broken('controllers/network/vpc.ts', '../runtime/controller.ts')).toBeUndefined();
    expect(broken('controllers/network/vpc.ts', '../../apiserver/errors.ts')).toMatch(/^controllers\//);
    expect(broken('agents/ovn-nb/index.ts', '../../controllers/runtime/reconciler.ts')).toBeUndefined();
    expect(broken('agents/ovn-nb/index.ts', '../../controllers/network/names.ts')).toMatch(/^agents\//);
    expect(broken('cli/photon.ts', '../apiserver/main.ts')).toMatch(/^cli\//);
    expect(broken('hack/bench/run.ts', '../../test/env/etcd.ts')).toBeUndefined();
    expect(broken('test/env/ovn.ts', '../../hack/ovn/up.ts')).toMatch(/^test\//);
    expect(broken('apiserver/x.test.ts', '../hack/fuzz.ts')).toMatch(/^apiserver\//);
    expect(broken('apiserver/server.ts', '../../elsewhere.ts')).toMatch(/inside the repository/);
    expect(broken('newfolder/a.ts', './b.ts')).toMatch(/no rule covers newfolder\//);
    expect(broken('apiserver/server.ts', 'node:fs')).toBeUndefined();
  });

  it('keeps apiserver/storage/ to the backends and their unit tests', () => {
    const exists = (relative: string) => ['apiserver/storage/embedded.ts', 'apiserver/storage/etcd.ts'].includes(relative);
    expect(checkStorageFolder('apiserver/storage/embedded.test.ts', [], exists)).toBeUndefined();
    expect(checkStorageFolder('apiserver/storage/conformance.test.ts', [], exists)).toMatch(/unit test of a module beside it/);
    expect(checkStorageFolder('apiserver/storage/conformance.ts', [{ specifier: '@jest/globals', kind: 'import' }], exists)).toMatch(/test suites belong in test\/storage/);
    expect(checkStorageFolder('apiserver/storage/etcd.ts', [{ specifier: './types.ts', kind: 'import' }], exists)).toBeUndefined();
  });

  it('holds for every hand-written source file in the repository', () => {
    const files = sourceFiles();
    const violations: Violation[] = [];
    const storageProblems: string[] = [];
    let relativeImports = 0;
    let scanned = 0;
    for (const file of files) {
      const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
      if (isGenerated(source)) continue;
      scanned++;
      const sites = importsOf(source, file);
      for (const site of sites) {
        if (site.specifier.startsWith('.')) relativeImports++;
        const violation = checkImport(file, site);
        if (violation) violations.push(violation);
      }
      const storage = checkStorageFolder(file, sites, (relative) => fs.existsSync(path.join(ROOT, relative)));
      if (storage) storageProblems.push(storage);
    }
    // A scan that finds nothing proves nothing.
    expect(scanned).toBeGreaterThan(100);
    expect(relativeImports).toBeGreaterThan(500);

    const lines = [
      ...violations.map((violation) => `  ${violation.file} → ${violation.specifier} (${violation.kind} of ${violation.target})\n      rule: ${violation.rule}`),
      ...storageProblems.map((problem) => `  ${problem}`),
    ];
    if (lines.length > 0) throw new Error(`${lines.length} import rule violation(s); the rules are documented in ${RULES_DOC}:\n${lines.join('\n')}`);
  });
});
