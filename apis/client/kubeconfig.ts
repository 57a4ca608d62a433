// Reads a kubeconfig (the file kubectl and client-node read) into what the client needs: the server URL of
// the current context's cluster, its CA, and the user's bearer token or client certificate. File
// references (certificate-authority, client-certificate, client-key, tokenFile) are resolved relative to the
// kubeconfig's directory, as kubectl does.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export interface ClusterConnection {
  /** https://host:port (a path prefix is kept). */
  server: string;
  /** PEM of the CA that signs the server's certificate (undefined: the system's CAs). */
  caPem?: string;
  insecureSkipTlsVerify?: boolean;
  /** Bearer token. Kept out of errors and logs. */
  token?: string;
  clientCertificatePem?: string;
  clientKeyPem?: string;
  /** The current context's namespace, if it names one. */
  namespace?: string;
  /** Name of the context these settings came from. */
  context?: string;
}

interface NamedEntry<T> {
  name?: string;
  [key: string]: unknown;
  value?: T;
}

type Dict = Record<string, unknown>;

function findNamed(list: unknown, name: string, field: string): Dict | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry = (list as Array<NamedEntry<unknown>>).find((candidate) => candidate && candidate.name === name);
  const value = entry?.[field];
  return value && typeof value === 'object' ? (value as Dict) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Parses kubeconfig text. `baseDir` resolves relative file references. `contextName` overrides current-context. */
export function parseKubeconfig(text: string, baseDir = process.cwd(), contextName?: string): ClusterConnection {
  const document = YAML.parse(text) as Dict | null;
  if (!document || typeof document !== 'object') throw new Error('kubeconfig: not a YAML mapping');
  const context = contextName ?? str(document['current-context']);
  if (!context) throw new Error('kubeconfig: no current-context');
  const contextEntry = findNamed(document.contexts, context, 'context');
  if (!contextEntry) throw new Error(`kubeconfig: context ${JSON.stringify(context)} not found`);
  const clusterName = str(contextEntry.cluster);
  const cluster = clusterName ? findNamed(document.clusters, clusterName, 'cluster') : undefined;
  if (!cluster) throw new Error(`kubeconfig: cluster ${JSON.stringify(clusterName ?? '')} of context ${JSON.stringify(context)} not found`);
  const server = str(cluster.server);
  if (!server) throw new Error(`kubeconfig: cluster ${JSON.stringify(clusterName)} has no server`);
  const userName = str(contextEntry.user);
  const user = (userName ? findNamed(document.users, userName, 'user') : undefined) ?? {};

  const readFile = (file: string) => fs.readFileSync(path.resolve(baseDir, file), 'utf8');
  const dataOrFile = (entry: Dict, dataKey: string, fileKey: string): string | undefined => {
    const data = str(entry[dataKey]);
    if (data) return Buffer.from(data, 'base64').toString('utf8');
    const file = str(entry[fileKey]);
    return file ? readFile(file) : undefined;
  };

  const connection: ClusterConnection = { server: server.replace(/\/+$/, ''), context };
  const caPem = dataOrFile(cluster, 'certificate-authority-data', 'certificate-authority');
  if (caPem) connection.caPem = caPem;
  if (cluster['insecure-skip-tls-verify'] === true) connection.insecureSkipTlsVerify = true;
  const token = str(user.token) ?? (str(user.tokenFile) ? readFile(str(user.tokenFile)!).trim() : undefined);
  if (token) connection.token = token;
  const certificate = dataOrFile(user, 'client-certificate-data', 'client-certificate');
  const key = dataOrFile(user, 'client-key-data', 'client-key');
  if (certificate && key) {
    connection.clientCertificatePem = certificate;
    connection.clientKeyPem = key;
  }
  const namespace = str(contextEntry.namespace);
  if (namespace) connection.namespace = namespace;
  return connection;
}

/** Reads and parses a kubeconfig file. */
export function loadKubeconfig(file: string, options: { context?: string } = {}): ClusterConnection {
  return parseKubeconfig(fs.readFileSync(file, 'utf8'), path.dirname(path.resolve(file)), options.context);
}
