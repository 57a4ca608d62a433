// `photon kubeconfig user|node NAME`: prints a kubeconfig holding a signed token for a User or a node, for
// administrators on a control-plane machine (like `kubeadm kubeconfig user`): it reads the signing keys in
// PHOTON_HOME directly and asks no server, so it works before the User exists. The token authenticates only
// while the User exists, is not disabled, and was created no later than the token.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { photonHome, runIfMain, UsageError } from '../../../lib/cli.ts';
import { errorMessage } from '../../../lib/logging.ts';
import { renderKubeconfig } from '../kubeconfig.ts';
import { formatDuration, parseDurationSeconds } from './duration.ts';
import { JwtTokenIssuer, MAX_LIFETIME_SECONDS, subjectName } from './issuer.ts';
import { readSigningKeys, signingKeyDirectory } from './keys.ts';

const USAGE = `Usage: photon kubeconfig user|node NAME [--expiration DURATION] [--server URL] [--home DIR]

Prints (to stdout) a kubeconfig whose token, signed with this cluster's current token signing key, speaks for:
  user NAME   the User NAME (iam.photoncloud.io); its groups are the Groups listing it. Valid only while the
              User exists and is not disabled; create the User first (or soon: a User created after the token
              was issued does not accept it)
  node NAME   the node agent of NAME (system:node:NAME, group system:nodes)

Flags:
  --expiration DURATION   how long the token is valid, e.g. 8h, 7d, 1h30m (default 24h; at most 30d for users,
                          365d for nodes)
  --server URL            the API server's URL (default: the one in $PHOTON_HOME/admin.kubeconfig)
  --home DIR              PHOTON_HOME (default $PHOTON_HOME, else ./.photon)

Keep the output private: it is a credential (write it with umask 077, e.g. > alice.kubeconfig).
`;

const DEFAULT_EXPIRATION_SECONDS = 24 * 3600;
const USER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function flags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { expiration: { type: 'string' }, server: { type: 'string' }, home: { type: 'string' } },
    });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}

/** The server URL of the admin kubeconfig, which the API server writes with the URL it serves on. */
function serverFromAdminKubeconfig(home: string): string {
  const file = path.join(home, 'admin.kubeconfig');
  let config: { clusters?: Array<{ cluster?: { server?: string } }> };
  try {
    config = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read the server URL from ${file} (${errorMessage(error)}); pass --server`);
  }
  const server = config?.clusters?.[0]?.cluster?.server;
  if (!server) throw new UsageError(`${file} names no server; pass --server`);
  return server;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = flags(argv);
  const [kind, name, ...extra] = positionals;
  if (kind !== 'user' && kind !== 'node') throw new UsageError(kind === undefined ? 'say user or node' : `unknown kind ${JSON.stringify(kind)}: user or node`);
  if (!name) throw new UsageError(`photon kubeconfig ${kind} needs a name`);
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (!(kind === 'user' ? USER_NAME : NODE_NAME).test(name) || name.length > (kind === 'user' ? 63 : 253)) {
    throw new UsageError(`${JSON.stringify(name)} is not a valid ${kind} name (${kind === 'user' ? 'a DNS-1123 label' : 'a DNS-1123 subdomain'})`);
  }
  const expiration = values.expiration === undefined ? DEFAULT_EXPIRATION_SECONDS : parseDurationSeconds(values.expiration);
  if (!expiration) throw new UsageError(`--expiration must be a positive duration such as 24h, 7d or 1h30m, got ${JSON.stringify(values.expiration)}`);
  const maximum = MAX_LIFETIME_SECONDS[kind];
  // Refused rather than shortened: an administrator who asked for 90 days must not find out on day 31.
  if (expiration > maximum) throw new UsageError(`--expiration ${values.expiration} is longer than a ${kind} token may live (${formatDuration(maximum)})`);

  const home = photonHome(values.home);
  const server = values.server ?? serverFromAdminKubeconfig(home);
  const caCertificatePem = fs.readFileSync(path.join(home, 'pki', 'ca.crt'), 'utf8');
  const directory = signingKeyDirectory(home);
  const signingKey = readSigningKeys(directory)[0];
  if (!signingKey) throw new Error(`no token signing key in ${directory}; start the API server once (it creates one) or run photon token-keys rotate`);

  const subject = kind === 'user' ? ({ kind: 'user', name } as const) : ({ kind: 'node', name } as const);
  const issued = new JwtTokenIssuer(() => signingKey).issue(subject, expiration);
  const user = subjectName(subject);
  process.stdout.write(renderKubeconfig({ server, caCertificatePem, user, token: issued.token }));
  process.stderr.write(`photon kubeconfig: token for ${user} valid until ${issued.expiresAt.toISOString()} (signing key ${signingKey.kid})\n`);
}

runIfMain(import.meta.url, 'photon kubeconfig', USAGE, main);
