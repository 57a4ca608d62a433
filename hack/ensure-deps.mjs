#!/usr/bin/env node
// Runs before `npm start` and `npm test` (prestart/pretest) so each is one command on a fresh machine:
//   - npm packages: `npm ci` when node_modules is missing or older than package-lock.json;
//   - with --system (tests): the Debian packages of hack/install-deps.sh when etcd or OVN is missing.
// Plain JavaScript on purpose: it must run before TypeScript tooling is installed.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const marker = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!fs.existsSync(marker) || fs.statSync(marker).mtimeMs < fs.statSync(lock).mtimeMs) {
  console.error('photon: installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

if (process.argv.includes('--system')) {
  const has = (binary) => {
    try {
      execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!['etcd', 'etcdctl', 'ovn-northd', 'ovn-controller', 'ovs-vswitchd', 'ovsdb-server', 'ip', 'ping', 'qemu-system-x86_64', 'qemu-img', 'pdns_server', 'sqlite3', 'dig', 'haproxy', 'ceph-mon', 'ceph-osd', 'rbd', 'radosgw'].every(has) || !fs.existsSync('/usr/lib/x86_64-linux-gnu/qemu/block-rbd.so')) {
    console.error('photon: installing system packages for the tests (hack/install-deps.sh)…');
    run('bash', [path.join(root, 'hack', 'install-deps.sh')]);
  }
  if (!has('kubectl')) {
    console.error('photon: the tests drive the real kubectl, which is not installed (see README).');
    process.exit(1);
  }
}
