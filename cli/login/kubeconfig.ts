// The kubeconfig side of `photon login`: which file, what a server's existing entry trusts, and merging the
// new cluster, user and context into the file as kubectl would (`kubectl config set-cluster/set-credentials/
// set-context/use-context`) while keeping everything else in it as it was, comments and order included (the
// yaml package's Document keeps them). The file holds tokens: written atomically with mode 0600.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML, { isMap, isSeq, type Document, type YAMLMap } from 'yaml';
import { writePrivateFileAtomic } from '../../lib/private-file.ts';

/** The file kubectl would write: the first of $KUBECONFIG's list, else ~/.kube/config. */
export function defaultKubeconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const first = (env.KUBECONFIG ?? '').split(path.delimiter).find((entry) => entry !== '');
  return path.resolve(first ?? path.join(env.HOME || os.homedir(), '.kube', 'config'));
}

/** A cluster's name from its server URL's host and port, as `oc login` names them: 127-0-0-1:6443. */
export function clusterNameFor(server: URL): string {
  const host = server.hostname.replace(/^\[|\]$/g, '').replace(/[^A-Za-z0-9-]/g, '-');
  return `${host}:${server.port || '443'}`;
}

/** Servers compared as kubectl users write them: with or without a trailing slash, any case of the host. */
function sameServer(a: string, b: string): boolean {
  try {
    const [left, right] = [new URL(a), new URL(b)];
    const key = (url: URL) => `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
    return key(left) === key(right);
  } catch {
    return false;
  }
}

/** Parses a kubeconfig's text (undefined or empty: a new file); refuses one that is not a YAML mapping. */
export function parseKubeconfig(text: string | undefined, file: string): Document {
  const document = YAML.parseDocument(text ?? '');
  if (document.errors.length > 0) throw new Error(`${file} is not valid YAML (${document.errors[0]!.message.split('\n')[0]}); fix or move it first`);
  if (document.contents === null) {
    return new YAML.Document({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [], 'current-context': '', preferences: {} });
  }
  if (!isMap(document.contents)) throw new Error(`${file} is not a kubeconfig (not a YAML mapping); fix or move it first`);
  return document;
}

/** What an existing cluster entry for server trusts: its CA as PEM (from -data or its file), or undefined. */
export function existingCertificateAuthority(document: Document, server: string, file: string): string | undefined {
  const clusters = document.get('clusters');
  if (!isSeq(clusters)) return undefined;
  for (const item of clusters.items) {
    if (!isMap(item)) continue;
    const cluster = item.get('cluster');
    if (!isMap(cluster) || typeof cluster.get('server') !== 'string' || !sameServer(cluster.get('server') as string, server)) continue;
    const data = cluster.get('certificate-authority-data');
    if (typeof data === 'string' && data) return Buffer.from(data, 'base64').toString('utf8');
    const caFile = cluster.get('certificate-authority');
    // kubectl resolves a relative path against the kubeconfig's own directory.
    if (typeof caFile === 'string' && caFile) return fs.readFileSync(path.resolve(path.dirname(file), caFile), 'utf8');
  }
  return undefined;
}

export interface LoginEntries {
  server: string;
  clusterName: string;
  /** PEM; absent: the system's trusted CAs (or none, with insecureSkipTlsVerify). */
  certificateAuthorityPem?: string;
  insecureSkipTlsVerify?: boolean;
  userName: string;
  token: string;
  contextName: string;
}

/** The list under key, made when absent; refuses a key holding something else (better than dropping it). */
function namedList(document: Document, key: string) {
  let list = document.get(key);
  if (list === undefined || list === null) {
    list = document.createNode([]);
    document.set(key, list);
  }
  if (!isSeq(list)) throw new Error(`its ${key} is not a list; fix the file first`);
  return list;
}

/**
 * The inner mapping (cluster, user or context) of the entry called name in the list under key, made when
 * absent. Only the keys login sets are changed in it (a cluster's proxy-url or a context's namespace stay).
 */
function entry(document: Document, key: string, inner: string, name: string): YAMLMap {
  const list = namedList(document, key);
  let item = list.items.find((candidate) => isMap(candidate) && candidate.get('name') === name);
  if (!isMap(item)) {
    item = document.createNode({ name, [inner]: {} });
    list.items.push(item);
  }
  const map = item as YAMLMap;
  let body = map.get(inner);
  if (!isMap(body)) {
    body = document.createNode({});
    map.set(inner, body);
  }
  return body as YAMLMap;
}

/** The kubeconfig document with the login's cluster, user and context set, and the context current. */
export function mergeLogin(document: Document, entries: LoginEntries): Document {
  const cluster = entry(document, 'clusters', 'cluster', entries.clusterName);
  cluster.set('server', entries.server);
  // One way to trust the server: what the login itself used.
  for (const key of ['certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify']) cluster.delete(key);
  if (entries.certificateAuthorityPem) cluster.set('certificate-authority-data', Buffer.from(entries.certificateAuthorityPem).toString('base64'));
  else if (entries.insecureSkipTlsVerify) cluster.set('insecure-skip-tls-verify', true);

  // The user's credentials are replaced whole: a leftover client certificate or exec plugin would be used
  // alongside (or instead of) the new token.
  const users = namedList(document, 'users');
  const user = document.createNode({ name: entries.userName, user: { token: entries.token } });
  const index = users.items.findIndex((candidate) => isMap(candidate) && candidate.get('name') === entries.userName);
  if (index >= 0) users.items[index] = user;
  else users.items.push(user);

  const context = entry(document, 'contexts', 'context', entries.contextName);
  context.set('cluster', entries.clusterName);
  context.set('user', entries.userName);
  if (!document.has('apiVersion')) document.set('apiVersion', 'v1');
  if (!document.has('kind')) document.set('kind', 'Config');
  document.set('current-context', entries.contextName);
  return document;
}

/** The file's text, or undefined when there is none yet. */
export function readKubeconfigText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Replaces file with text atomically (a temporary file in the same directory, fsynced, renamed over it)
 * with mode 0600, so no reader ever sees half a file and no other user a token. A symlinked kubeconfig is
 * written through: the link stays a link.
 */
export function writeKubeconfigAtomic(file: string, text: string): string {
  let target = file;
  try {
    target = fs.realpathSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  }
  writePrivateFileAtomic(target, text);
  return target;
}
