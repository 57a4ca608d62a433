// `photon encryption <command>`: manages the key file the API server encrypts Secrets with. Running API
// servers follow the file: after add-key they re-encrypt every Secret with the new key; remove an old key only
// once that has finished (the server logs "re-encrypted Secrets with the current key").
import path from 'node:path';
import { parseArgs } from 'node:util';
import { photonHome } from '../../lib/cli.ts';
import { errorMessage } from '../../lib/logging.ts';
import { addKey, loadEncryptionKeys, removeKey } from './keys.ts';

const USAGE = `Usage: photon encryption <command> [--home DIR | --key-file FILE]

Commands:
  list              show the keys (names only; the first encrypts, all decrypt)
  add-key           add a new key that encrypts from now on; running servers re-encrypt every Secret with it
  remove-key NAME   remove an old key (not the one that encrypts) once nothing is encrypted with it

The key file defaults to $PHOTON_HOME/encryption.yaml (PHOTON_HOME defaults to ./.photon).
`;

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { home: { type: 'string' }, 'key-file': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const file = path.resolve(values['key-file'] ?? path.join(photonHome(values.home), 'encryption.yaml'));
  const [command, name] = positionals;
  switch (command) {
    case 'list': {
      const keys = loadEncryptionKeys(file);
      keys.forEach((key, index) => process.stdout.write(`${key.name}${index === 0 ? '\t(encrypts)' : ''}\n`));
      return 0;
    }
    case 'add-key':
      process.stdout.write(`added ${addKey(file)}; running API servers now encrypt with it and re-encrypt existing Secrets\n`);
      return 0;
    case 'remove-key':
      if (!name) throw new Error('remove-key needs the name of the key to remove');
      removeKey(file, name);
      process.stdout.write(`removed ${name}\n`);
      return 0;
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

try {
  process.exit(main(process.argv.slice(2)));
} catch (error) {
  process.stderr.write(`photon encryption: ${errorMessage(error)}\n`);
  process.exit(1);
}
