// `photon audit verify FILE`: checks an audit log's hash chain. Exit 0 with "N lines verified", 1 naming the
// first broken line and why, 2 for a usage error.
import { parseArgs } from 'node:util';
import { errorMessage } from '../../lib/logging.ts';
import { verifyAuditLog } from './verify.ts';

const USAGE = `Usage: photon audit verify FILE

Checks the hash chain of an audit log (default location: $PHOTON_HOME/audit/audit.log): every line must be
unchanged and follow the line before it. Prints "N lines verified" (exit 0), or the first broken line's number
and why (exit 1). Lines cut off the end of the file cannot be detected by the chain alone: compare the last
line's hash (printed) with one recorded elsewhere.
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    process.stderr.write(`error: ${errorMessage(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [command, file, ...extra] = positionals;
  if (command !== 'verify' || !file || extra.length > 0) {
    process.stderr.write(`${command && command !== 'verify' ? `unknown command ${JSON.stringify(command)}\n\n` : ''}${USAGE}`);
    return 2;
  }
  const result = await verifyAuditLog(file);
  if (!result.ok) {
    process.stdout.write(`${file}: line ${result.line} is broken: ${result.reason}\n`);
    return 1;
  }
  process.stdout.write(`${result.lines} lines verified (last hash ${result.lastHash})\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`photon audit: ${errorMessage(error)}\n`);
    process.exit(1);
  },
);
