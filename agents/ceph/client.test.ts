import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../lib/cli.ts';
import { cephClientFromFlags, keyOf } from './client.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-ceph-client-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
const file = (name: string, text: string) => {
  const at = path.join(dir, name);
  fs.writeFileSync(at, text);
  return at;
};

const ADMIN = 'AQBzYHVmAAAAABAAu4iZ8Qmyr4f0ErjcYBPbzQ==';
const PHOTON = 'AQCaYHVmAAAAABAAOlZ0gK1HoyHk3fRzJbXq7A==';
// As ceph-authtool and `ceph auth get` write it: tab-indented keys, caps after them.
const KEYRING = `[client.admin]
\tkey = ${ADMIN}
\tcaps mds = "allow *"
\tcaps mon = "allow *"
[client.photon]
\tkey = ${PHOTON}
\tcaps osd = "profile rbd pool=photon-fast"
`;

describe('keyOf', () => {
  it('reads the key of [client.<id>] only', () => {
    const keyring = file('two.keyring', KEYRING);
    expect(keyOf({ conf: '/etc/ceph/ceph.conf', keyring, id: 'admin' })).toBe(ADMIN);
    expect(keyOf({ conf: '/etc/ceph/ceph.conf', keyring, id: 'photon' })).toBe(PHOTON);
  });

  it('ignores keys of other sections and before any section; tolerates spaces and CRLF line ends', () => {
    const keyring = file('other.keyring', `key = ${ADMIN}\r\n[ mon. ]\r\n  key=${ADMIN}\r\n[ client.photon ]\r\n  key=${PHOTON}  \r\n`);
    expect(keyOf({ conf: '/c', keyring, id: 'photon' })).toBe(PHOTON);
  });

  it('a client that is not in the keyring is an error naming the file and the client', () => {
    const keyring = file('admin-only.keyring', `[client.admin]\n\tkey = ${ADMIN}\n`);
    expect(() => keyOf({ conf: '/c', keyring, id: 'photon' })).toThrow(`${keyring} holds no key for client.photon`);
    // A prefix of another client's name is not that client.
    expect(() => keyOf({ conf: '/c', keyring, id: 'adm' })).toThrow('holds no key for client.adm');
  });

  it('a section without a key line is an error, not the next section\'s key', () => {
    const keyring = file('keyless.keyring', `[client.photon]\n\tcaps mon = "allow r"\n[client.admin]\n\tkey = ${ADMIN}\n`);
    expect(() => keyOf({ conf: '/c', keyring, id: 'photon' })).toThrow('holds no key for client.photon');
  });

  it('a missing keyring file throws', () => {
    expect(() => keyOf({ conf: '/c', keyring: path.join(dir, 'absent.keyring'), id: 'admin' })).toThrow(/ENOENT/);
  });
});

describe('cephClientFromFlags', () => {
  let conf: string;
  let keyring: string;
  beforeAll(() => {
    conf = file('ceph.conf', '[global]\nmon_host = 169.254.199.1\n');
    keyring = file('flags.keyring', KEYRING);
  });

  it('no --ceph-conf and no --ceph-keyring: no Ceph', () => {
    expect(cephClientFromFlags({})).toBeUndefined();
    expect(cephClientFromFlags({ 'ceph-id': 'admin' })).toBeUndefined();
  });

  it('both files: absolute paths and the client, admin by default', () => {
    expect(cephClientFromFlags({ 'ceph-conf': conf, 'ceph-keyring': keyring })).toEqual({ conf, keyring, id: 'admin' });
    expect(cephClientFromFlags({ 'ceph-conf': conf, 'ceph-keyring': keyring, 'ceph-id': 'rgw.host-1_a' })).toEqual({ conf, keyring, id: 'rgw.host-1_a' });
  });

  it('relative paths are resolved against the working directory', () => {
    const relative = path.relative(process.cwd(), conf);
    expect(cephClientFromFlags({ 'ceph-conf': relative, 'ceph-keyring': keyring })?.conf).toBe(conf);
  });

  it.each<[string, Record<string, unknown>, string | RegExp]>([
    ['--ceph-keyring without --ceph-conf', { 'ceph-keyring': '/etc/ceph/ceph.client.admin.keyring' }, '--ceph-keyring needs --ceph-conf'],
    ['--ceph-conf without --ceph-keyring', { 'ceph-conf': '/etc/ceph/ceph.conf' }, '--ceph-conf needs --ceph-keyring (the key of the Ceph client PhotonCloud uses)'],
    ['a --ceph-conf that does not exist', { 'ceph-conf': '/nonexistent/ceph.conf', 'ceph-keyring': '/nonexistent/k' }, '--ceph-conf /nonexistent/ceph.conf: no such file'],
    ['a --ceph-keyring that does not exist', { 'ceph-conf': '<conf>', 'ceph-keyring': '/nonexistent/k' }, '--ceph-keyring /nonexistent/k: no such file'],
    ['a --ceph-id with a space', { 'ceph-conf': '<conf>', 'ceph-keyring': '<keyring>', 'ceph-id': 'ad min' }, '--ceph-id must be a Ceph client name such as admin or photon, got "ad min"'],
    ['a --ceph-id with a bracket', { 'ceph-conf': '<conf>', 'ceph-keyring': '<keyring>', 'ceph-id': 'admin]' }, /--ceph-id must be a Ceph client name/],
    ['an empty --ceph-id', { 'ceph-conf': '<conf>', 'ceph-keyring': '<keyring>', 'ceph-id': '' }, /--ceph-id must be a Ceph client name.*got ""/],
    ['a --ceph-id over 64 characters', { 'ceph-conf': '<conf>', 'ceph-keyring': '<keyring>', 'ceph-id': 'a'.repeat(65) }, /--ceph-id must be a Ceph client name/],
  ])('refuses %s with a UsageError', (_what, flags, message) => {
    const values = Object.fromEntries(Object.entries(flags).map(([flag, value]) => [flag, value === '<conf>' ? conf : value === '<keyring>' ? keyring : value]));
    expect(() => cephClientFromFlags(values)).toThrow(UsageError);
    expect(() => cephClientFromFlags(values)).toThrow(message);
  });
});
