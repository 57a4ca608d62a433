// The node agent's HTTPS endpoint, which the API server reaches for a VM's serial console (as kube-apiserver
// reaches kubelet for pods/log): GET /console/<namespace>/<name>?follow=&tailLines=&limitBytes=.
//
// Trust, both ways:
//  - The agent accepts only the API server: a client certificate that chains to the cluster CA (the one in the
//    agent's kubeconfig) with CN system:photon:apiserver-agent-client, which the API server issues itself at
//    start ($PHOTON_HOME/pki/agent-client.crt). Anything else fails the TLS handshake or gets 403.
//  - The API server accepts only this agent: the agent serves a self-signed certificate it keeps in its state
//    directory and publishes its SHA-256 in its Node's status (daemonEndpoints.agentEndpoint.certificateSha256),
//    which only this node's credentials can write (NodeRestriction). The API server pins that fingerprint, so no
//    CA is needed for agents and nobody on the node network can pose as one.
// Everything a client controls is bounded: tailLines, limitBytes, how long a follow lasts.
import { X509Certificate, createHash, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs it loaded first
import * as x509 from '@peculiar/x509';
import { APISERVER_AGENT_CLIENT } from '../../apis/compute/nodes.ts';
import { writePrivateFileAtomic } from '../../lib/private-file.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';

export const MAX_TAIL_LINES = 100_000;
/** A tail reads at most this much of the file from its end. */
export const MAX_TAIL_BYTES = 64 * 1024 * 1024;
/** A follow ends after this long (the client reconnects): no request holds the agent forever. */
export const MAX_FOLLOW_MS = 4 * 3600 * 1000;
const FOLLOW_POLL_MS = 200;

export interface ServingCertificate {
  certificatePem: string;
  keyPem: string;
  /** Lower-case hex SHA-256 of the certificate's DER. */
  sha256: string;
}

export const certificateSha256 = (pem: string): string => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

/** The agent's self-signed serving certificate from `dir`, created (ECDSA P-256, one year) when missing or within 30 days of expiry. */
export async function ensureServingCertificate(dir: string, nodeName: string, addresses: string[]): Promise<ServingCertificate> {
  const certFile = path.join(dir, 'agent-serving.crt');
  const keyFile = path.join(dir, 'agent-serving.key');
  try {
    const certificatePem = fs.readFileSync(certFile, 'utf8');
    const keyPem = fs.readFileSync(keyFile, 'utf8');
    if (new Date(new X509Certificate(certificatePem).validTo).getTime() > Date.now() + 30 * 86400_000) return { certificatePem, keyPem, sha256: certificateSha256(certificatePem) };
  } catch {
    // missing or unreadable: make a new one
  }
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash('sha256').update(`${nodeName}${now}`).digest('hex').slice(0, 16),
    name: `CN=photon-agent ${nodeName.replace(/[,+"\\<>;=]/g, '_')}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 365 * 86400_000),
    signingAlgorithm: algorithm,
    keys: keys as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(addresses.map((value) => ({ type: /^[\d.]+$|:/.test(value) ? 'ip' : 'dns', value }))),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  const certificatePem = `${certificate.toString('pem')}\n`;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  writePrivateFileAtomic(keyFile, keyPem);
  writePrivateFileAtomic(certFile, certificatePem);
  return { certificatePem, keyPem, sha256: certificateSha256(certificatePem) };
}

export interface AgentServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls: { certificatePem: string; keyPem: string };
  /** PEM of the CA the API server's client certificate chains to (the cluster CA). */
  clientCaPem: string;
  /** The console file of a VM bound to this node, or undefined for one it does not run. */
  consoleFile(namespace: string, name: string): string | undefined;
  log: Logger;
}

export interface AgentServer {
  readonly port: number;
  close(): Promise<void>;
}

class BadRequest extends Error {}

function intParam(query: URLSearchParams, name: string, max: number): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  if (!/^\d{1,12}$/.test(text) || Number(text) > max) throw new BadRequest(`${name} must be an integer from 0 to ${max}, got ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

function boolParam(query: URLSearchParams, name: string): boolean {
  const text = query.get(name);
  if (text === null || text === 'false' || text === '0') return false;
  if (text === 'true' || text === '1' || text === '') return true;
  throw new BadRequest(`${name} must be true or false`);
}

/** The offset the last `lines` lines of the file start at (reading backwards, at most MAX_TAIL_BYTES). */
async function tailOffset(file: string, size: number, lines: number): Promise<number> {
  if (lines === 0) return size;
  const handle = await fsp.open(file, 'r');
  try {
    const chunk = Buffer.alloc(64 * 1024);
    let position = size;
    let newlines = 0;
    // A trailing newline ends the last line; it does not start another.
    let skipLast = true;
    while (position > 0 && size - position < MAX_TAIL_BYTES) {
      const length = Math.min(chunk.length, position);
      position -= length;
      await handle.read(chunk, 0, length, position);
      for (let index = length - 1; index >= 0; index--) {
        if (chunk[index] !== 0x0a) continue;
        if (skipLast && position + index === size - 1) {
          skipLast = false;
          continue;
        }
        newlines++;
        if (newlines === lines) return position + index + 1;
      }
      skipLast = false;
    }
    return Math.max(0, size - MAX_TAIL_BYTES, position);
  } finally {
    await handle.close();
  }
}

/** Sends the file from `start` (at most `limit` bytes), then, with follow, what is appended until the client goes. */
async function streamConsole(file: string, response: ServerResponse, options: { tailLines?: number; limitBytes?: number; follow: boolean }, isGone: () => boolean): Promise<void> {
  let size = (await fsp.stat(file)).size;
  let offset = options.tailLines !== undefined ? await tailOffset(file, size, options.tailLines) : 0;
  let remaining = options.limitBytes ?? Number.POSITIVE_INFINITY;
  response.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  const deadline = Date.now() + MAX_FOLLOW_MS;
  const handle = await fsp.open(file, 'r');
  const buffer = Buffer.alloc(64 * 1024);
  try {
    for (;;) {
      while (offset < size && remaining > 0 && !response.destroyed) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - offset, remaining), offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        remaining -= bytesRead;
        // Backpressure: wait for the client to take what was sent.
        if (!response.write(Buffer.from(buffer.subarray(0, bytesRead)))) await new Promise((resolve) => response.once('drain', resolve).once('close', resolve));
      }
      if (!options.follow || remaining <= 0 || response.destroyed || Date.now() > deadline || isGone()) break;
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
      const now = await fsp.stat(file).catch(() => undefined);
      if (!now) break; // the VM's state went with it
      if (now.size < offset) offset = 0; // truncated: start over
      size = now.size;
    }
  } finally {
    await handle.close();
    if (!response.destroyed) response.end();
  }
}

export async function startAgentServer(options: AgentServerOptions): Promise<AgentServer> {
  const { log } = options;
  const server = https.createServer({ cert: options.tls.certificatePem, key: options.tls.keyPem, ca: options.clientCaPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const fail = (code: number, message: string) => {
      if (response.headersSent) return void response.destroy();
      response.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
    };
    const peer = (request.socket as TLSSocket).getPeerCertificate();
    if (peer?.subject?.CN !== APISERVER_AGENT_CLIENT) return fail(403, `only the API server (${APISERVER_AGENT_CLIENT}) may use this endpoint`);
    if (request.method !== 'GET') return fail(405, 'only GET');
    const url = new URL(request.url ?? '/', 'https://agent');
    const match = /^\/console\/([a-z0-9][-a-z0-9]{0,62})\/([a-z0-9][-a-z0-9]{0,62})$/.exec(url.pathname);
    if (!match) return fail(404, 'not found');
    const [, namespace, name] = match;
    let params: { tailLines?: number; limitBytes?: number; follow: boolean };
    try {
      params = { tailLines: intParam(url.searchParams, 'tailLines', MAX_TAIL_LINES), limitBytes: intParam(url.searchParams, 'limitBytes', Number.MAX_SAFE_INTEGER), follow: boolParam(url.searchParams, 'follow') };
      if (params.limitBytes === 0) throw new BadRequest('limitBytes must be at least 1');
    } catch (error) {
      return fail(400, errorMessage(error));
    }
    const file = options.consoleFile(namespace, name);
    if (!file || !fs.existsSync(file)) return fail(404, `VirtualMachine ${namespace}/${name} has no console on this node`);
    streamConsole(file, response, params, () => options.consoleFile(namespace, name) !== file).catch((error) => {
      log.warn('console stream failed', { namespace, name, error: errorMessage(error) });
      fail(500, 'console stream failed');
    });
  });
  server.on('tlsClientError', (error) => log.debug('agent endpoint: TLS handshake refused', { error: errorMessage(error) }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
