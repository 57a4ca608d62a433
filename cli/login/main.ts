// `photon login --server URL --user NAME`: trades a User's password for a signed token at the API server's
// POST /login and writes it into a kubeconfig (merged: a cluster named after the server's host:port, the
// user NAME@cluster, a context, made current), so kubectl works as that user right away. Unlike `photon
// kubeconfig user`, it needs no access to the control plane's keys: anyone with a password can run it.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { runIfMain, UsageError } from '../../lib/cli.ts';
import { parseDurationSeconds } from '../../lib/duration.ts';
import { errorMessage } from '../../lib/logging.ts';
import { postLogin, type LoginAnswer } from './client.ts';
import { clusterNameFor, defaultKubeconfigPath, existingCertificateAuthority, mergeLogin, parseKubeconfig, readKubeconfigText, writeKubeconfigAtomic } from './kubeconfig.ts';
import { PromptInterrupted, readPassword } from './password.ts';

const USAGE = `Usage: photon login --server URL --user NAME [flags]

Logs in to a PhotonCloud API server with a User's password and writes the token it hands out into a
kubeconfig: a cluster named after the server's host:port, the user NAME@<cluster>, a context (the same name
unless --context says otherwise), made the current context. Everything else in the file is kept.

The password is read from stdin when it is not a terminal (echo "$PASSWORD" | photon login …; its first
line), otherwise asked for without echo. It is never taken from a flag.

Flags:
  --server URL                  the API server, https:// only (e.g. https://127.0.0.1:6443)
  --user NAME                   the User to log in as (iam.photoncloud.io)
  --kubeconfig FILE             the kubeconfig to write (default: the first file in $KUBECONFIG, else ~/.kube/config)
  --certificate-authority FILE  the cluster's CA certificate (PEM); default: the CA of an entry in the kubeconfig
                                with the same server, else the system's trusted CAs
  --insecure-skip-tls-verify    do not check the server's certificate (the password could go to anyone; tests only)
  --context NAME                the context's name (default NAME@<cluster>)
  --expiration DURATION         how long the token is valid, e.g. 8h, 7d (default 24h; at least 10m, at most 30d)

Exit status: 0 logged in; 1 refused (wrong user name or password, too many attempts) or unreachable; 2 usage.
`;

/** The User CRD's names: DNS-1123 labels. */
const USER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A refusal the user should read as is (no "photon login:" prefix), exit 1. */
class LoginFailed extends Error {}

function flags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        server: { type: 'string' },
        user: { type: 'string' },
        kubeconfig: { type: 'string' },
        'certificate-authority': { type: 'string' },
        'insecure-skip-tls-verify': { type: 'boolean' },
        context: { type: 'string' },
        expiration: { type: 'string' },
      },
    }).values;
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}

function serverUrl(value: string | undefined): URL {
  if (!value) throw new UsageError('--server is required');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--server ${JSON.stringify(value)} is not a URL (e.g. https://127.0.0.1:6443)`);
  }
  if (url.protocol === 'http:') throw new UsageError(`refusing to send a password over plain http: use https:// (--server ${value})`);
  if (url.protocol !== 'https:') throw new UsageError(`--server must be an https:// URL, got ${JSON.stringify(value)}`);
  if (url.username || url.password || url.search || url.hash) throw new UsageError('--server must not carry credentials, a query or a fragment');
  return url;
}

/** The Status message of an error answer, bounded (it is the server's text, shown to a terminal). */
function statusMessage(answer: LoginAnswer): string {
  const message = (answer.body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message.replace(/[^\x20-\x7e]/g, '?').slice(0, 500) : `HTTP ${answer.status}`;
}

function refusal(answer: LoginAnswer): Error {
  switch (answer.status) {
    case 401:
      return new LoginFailed('login failed: wrong user name or password');
    case 429: {
      const wait = answer.retryAfterSeconds ?? 1;
      const at = new Date(Date.now() + wait * 1000).toLocaleTimeString();
      return new LoginFailed(`login failed: too many attempts; try again in ${wait} seconds (after ${at})`);
    }
    case 400:
      // Everything the server checks was checked here first, except its own bounds (say --expiration).
      return new UsageError(`the server refused the request: ${statusMessage(answer)}`);
    default:
      return new LoginFailed(`login failed: the server answered ${answer.status}: ${statusMessage(answer)}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const values = flags(argv);
  const server = serverUrl(values.server);
  const username = values.user;
  if (!username) throw new UsageError('--user is required');
  if (username.length > 63 || !USER_NAME.test(username)) throw new UsageError(`--user ${JSON.stringify(username)} is not a user name (a DNS-1123 label)`);
  const expirationSeconds = values.expiration === undefined ? undefined : parseDurationSeconds(values.expiration);
  if (expirationSeconds === 0 || (values.expiration !== undefined && expirationSeconds === undefined)) {
    throw new UsageError(`--expiration must be a positive duration such as 24h, 7d or 1h30m, got ${JSON.stringify(values.expiration)}`);
  }
  const insecure = values['insecure-skip-tls-verify'] === true;
  if (insecure && values['certificate-authority']) throw new UsageError('--certificate-authority and --insecure-skip-tls-verify contradict each other');
  if (values.context === '') throw new UsageError('--context must not be empty');

  // The file is read (and must parse) before the password is asked for: a broken kubeconfig fails first.
  const file = values.kubeconfig ?? defaultKubeconfigPath();
  const document = parseKubeconfig(readKubeconfigText(file), file);
  let certificateAuthorityPem: string | undefined;
  if (values['certificate-authority']) {
    try {
      certificateAuthorityPem = fs.readFileSync(values['certificate-authority'], 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --certificate-authority: ${errorMessage(error)}`);
    }
  } else if (!insecure) {
    certificateAuthorityPem = existingCertificateAuthority(document, server.href, file);
  }

  const password = await readPassword(`Password for ${username}: `);
  if (password === '') throw new UsageError('no password given (on stdin, or at the prompt)');
  let answer: LoginAnswer;
  try {
    answer = await postLogin({ server, username, password, expirationSeconds, certificateAuthorityPem, insecureSkipTlsVerify: insecure });
  } catch (error) {
    throw new LoginFailed(`login failed: cannot reach ${server.origin}: ${errorMessage(error)}`);
  }
  if (answer.status !== 200) throw refusal(answer);
  const { token, expirationTimestamp } = (answer.body ?? {}) as { token?: unknown; expirationTimestamp?: unknown };
  if (typeof token !== 'string' || !token) throw new LoginFailed('login failed: the server answered without a token');

  const clusterName = clusterNameFor(server);
  const userName = `${username}@${clusterName}`;
  const contextName = values.context ?? userName;
  const serverText = server.href.replace(/\/$/, '');
  mergeLogin(document, { server: serverText, clusterName, certificateAuthorityPem, insecureSkipTlsVerify: insecure, userName, token, contextName });
  const written = writeKubeconfigAtomic(file, document.toString());
  process.stdout.write(
    `Logged in to ${serverText} as ${username}; context "${contextName}" is now current in ${written}` +
      (typeof expirationTimestamp === 'string' ? ` (token valid until ${expirationTimestamp})` : '') +
      '.\n',
  );
  if (insecure) process.stderr.write('warning: the server\'s certificate was not checked (--insecure-skip-tls-verify)\n');
}

async function login(argv: string[]): Promise<void> {
  try {
    await main(argv);
  } catch (error) {
    if (error instanceof PromptInterrupted) process.exit(130);
    if (!(error instanceof LoginFailed)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  }
}

runIfMain(import.meta.url, 'photon login', USAGE, login);
