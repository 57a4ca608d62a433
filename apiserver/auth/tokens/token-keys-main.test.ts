import { afterEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../../../lib/cli.ts';
import { addSigningKey, readSigningKeys, signingKeyDirectory } from './keys.ts';
import { parseTokenKeysArgs } from './token-keys-main.ts';

const PHOTON = path.resolve(import.meta.dirname, '../../../cli/photon.ts');
const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) fs.rmSync(home, { recursive: true, force: true });
});

describe('photon token-keys arguments', () => {
  it('takes a key id that starts with "-" as the key id, not as a flag', () => {
    const kid = '-AbCdEfGhIjKlMnOpQrStU';
    expect(parseTokenKeysArgs(['remove', kid, '--home', '/h'])).toEqual({ values: { home: '/h' }, positionals: ['remove', kid] });
    expect(parseTokenKeysArgs(['--home=/h', 'remove', kid]).positionals).toEqual(['remove', kid]);
  });

  it('still refuses unknown flags, including ones shorter or longer than a key id', () => {
    for (const flag of ['--bogus', '-x', '-AbCdEfGhIjKlMnOpQrStUv', '-AbCdEfGhIjKlMnOpQrSt.']) {
      expect(() => parseTokenKeysArgs(['remove', flag])).toThrow(UsageError);
    }
  });

  it('removes a key whose id starts with "-" (one in 64) when given exactly as `list` prints it', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'token-keys-main-'));
    homes.push(home);
    const directory = signingKeyDirectory(home);
    addSigningKey(directory);
    let dashed = addSigningKey(directory);
    while (!dashed.kid.startsWith('-')) {
      fs.rmSync(dashed.file);
      dashed = addSigningKey(directory);
    }
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', PHOTON, 'token-keys', 'remove', dashed.kid, '--home', home]);
    expect(stdout).toContain(`removed ${dashed.kid}`);
    expect(readSigningKeys(directory).map((key) => key.kid)).not.toContain(dashed.kid);
    expect(readSigningKeys(directory)).toHaveLength(1);
  });
});
