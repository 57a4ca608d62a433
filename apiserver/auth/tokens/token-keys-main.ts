// `photon token-keys <command>`: manages the keys in $PHOTON_HOME/pki/token-signing/ that sign tokens.
// Running API servers follow the directory within a couple of seconds: a rotated-in key signs from then on,
// and a removed key's tokens are refused from then on (see docs/operations.md, "Token signing keys").
import { parseArgs } from 'node:util';
import { photonHome, runIfMain, UsageError } from '../../../lib/cli.ts';
import { errorMessage } from '../../../lib/logging.ts';
import { addSigningKey, isKeyId, readSigningKeys, removeSigningKey, signingKeyDirectory } from './keys.ts';

const USAGE = `Usage: photon token-keys <command> [--home DIR]

Commands:
  list          the signing keys, newest first; the newest signs new tokens, every one listed verifies
  rotate        add a new key, which signs from now on (tokens signed by the older keys stay valid)
  remove KID    remove a key: every token it signed is refused from then on (not the last key)

Keys live in $PHOTON_HOME/pki/token-signing/<kid>.key (PHOTON_HOME defaults to ./.photon); running API
servers notice a change within about two seconds.
`;

/**
 * The command line's flags and positionals. Key ids are base64url, so one in 64 starts with '-' and would
 * be taken for an unknown flag (`remove -Xy…` a usage error): anything shaped like a key id is a positional
 * (no flag or flag value of ours looks like one), passed through parseArgs as a placeholder.
 */
export function parseTokenKeysArgs(argv: string[]) {
  const keyIds: string[] = [];
  const args = argv.map((arg) => (arg.startsWith('-') && isKeyId(arg) ? `\0key-id-${keyIds.push(arg) - 1}` : arg));
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { home: { type: 'string' } } });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  const positionals = parsed.positionals.map((arg) => (arg.startsWith('\0key-id-') ? keyIds[Number(arg.slice('\0key-id-'.length))]! : arg));
  return { values: parsed.values, positionals };
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseTokenKeysArgs(argv);
  const directory = signingKeyDirectory(photonHome(values.home));
  const [command, ...rest] = positionals;
  const expectArguments = (count: number) => {
    if (rest.length !== count) throw new UsageError(`${command} takes ${count === 0 ? 'no arguments' : `${count} argument`}`);
  };
  switch (command) {
    case 'list': {
      expectArguments(0);
      const keys = readSigningKeys(directory);
      if (keys.length === 0) throw new Error(`no token signing keys in ${directory} (the API server creates one on first start)`);
      keys.forEach((key, index) => process.stdout.write(`${key.kid}\t${key.modifiedAt.toISOString()}${index === 0 ? '\t(signs)' : ''}\n`));
      return;
    }
    case 'rotate': {
      expectArguments(0);
      const key = addSigningKey(directory);
      process.stdout.write(`added ${key.kid}; running API servers sign new tokens with it within seconds\n`);
      return;
    }
    case 'remove': {
      expectArguments(1);
      removeSigningKey(directory, rest[0]!);
      process.stdout.write(`removed ${rest[0]}; tokens it signed are refused within seconds\n`);
      return;
    }
    case undefined:
      throw new UsageError('a command is required');
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

runIfMain(import.meta.url, 'photon token-keys', USAGE, main);
