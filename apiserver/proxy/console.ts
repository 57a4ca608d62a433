// GET …/virtualmachines/NAME/console: the VM's serial console, in the shape of pods/log (text/plain;
// ?follow=true streams, ?tailLines=N, ?limitBytes=N). Authorization already happened (RBAC resource
// virtualmachines/console, verb get). The console file is on the VM's node, so this proxies to that node's agent
// (agents/node/agent-server.ts) at the Node's InternalIP and daemonEndpoints.agentEndpoint.port, presenting the
// API server's agent client certificate and accepting only the agent certificate whose SHA-256 the node
// published in its status. Errors are Status objects: 400 for parameters or a VM not on a node, 404 for a VM
// that does not exist, 503 when the node's agent cannot be reached (never a hang: connects are bounded).
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { KeyPairPem } from '../auth/pki.ts';
import { ApiError, badRequest, serviceUnavailable } from '../errors.ts';
import type { ResourceRequest } from '../http/request-info.ts';
import type { Reader } from '../registry/reads.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';

const CONNECT_TIMEOUT_MS = 10_000;
const MAX_TAIL_LINES = 100_000;

interface VmLike {
  status?: { nodeName?: string };
}
interface NodeLike {
  status?: { addresses?: Array<{ type: string; address: string }>; daemonEndpoints?: { agentEndpoint?: { port?: number; certificateSha256?: string } } };
}

export interface ConsoleProxyDeps {
  reader: Reader;
  registry: ResourceRegistry;
  clientCertificate: KeyPairPem;
  log: Logger;
}

/** The query the agent gets: only the parameters it knows, checked here first. */
function agentQuery(query: URLSearchParams): string {
  const out = new URLSearchParams();
  const follow = query.get('follow');
  if (follow !== null) {
    if (!['true', 'false', '1', '0'].includes(follow)) throw badRequest(`follow: must be true or false, got ${JSON.stringify(follow.slice(0, 40))}`);
    out.set('follow', String(follow === 'true' || follow === '1'));
  }
  for (const [name, max] of [['tailLines', MAX_TAIL_LINES], ['limitBytes', Number.MAX_SAFE_INTEGER]] as const) {
    const text = query.get(name);
    if (text === null) continue;
    if (!/^\d{1,16}$/.test(text) || Number(text) > max || (name === 'limitBytes' && Number(text) === 0)) throw badRequest(`${name}: must be an integer from ${name === 'limitBytes' ? 1 : 0} to ${max}, got ${JSON.stringify(text.slice(0, 40))}`);
    out.set(name, text);
  }
  return out.toString();
}

export class ConsoleProxy {
  constructor(private readonly deps: ConsoleProxyDeps) {}

  serve = async (request: IncomingMessage, response: ServerResponse, query: URLSearchParams, info: ResourceRequest, resource: ResourceInfo): Promise<void> => {
    if (info.subresource !== 'console' || resource.group !== 'compute.photoncloud.io' || resource.plural !== 'virtualmachines') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const params = agentQuery(query);
    const namespace = info.namespace!;
    const name = info.name!;
    const vm = (await this.deps.reader.get(resource, namespace, name)) as VmLike;
    const nodeName = vm.status?.nodeName;
    if (!nodeName) throw badRequest(`VirtualMachine ${namespace}/${name} is not scheduled to a node: it has no console yet`);
    const nodeResource = this.deps.registry.get('compute.photoncloud.io', resource.version, 'nodes');
    const node = nodeResource ? ((await this.deps.reader.get(nodeResource, undefined, nodeName).catch(() => undefined)) as NodeLike | undefined) : undefined;
    const address = node?.status?.addresses?.find((entry) => entry.type === 'InternalIP')?.address;
    const endpoint = node?.status?.daemonEndpoints?.agentEndpoint;
    if (!address || !endpoint?.port || !endpoint.certificateSha256) throw serviceUnavailable(`the agent of node ${nodeName} has not published its endpoint (status.addresses InternalIP, status.daemonEndpoints.agentEndpoint)`);
    await this.proxy(request, response, { host: address, port: endpoint.port, pin: endpoint.certificateSha256, path: `/console/${namespace}/${name}${params ? `?${params}` : ''}`, nodeName });
  };

  private proxy(request: IncomingMessage, response: ServerResponse, target: { host: string; port: number; pin: string; path: string; nodeName: string }): Promise<void> {
    const unreachable = (why: string) => serviceUnavailable(`cannot reach the agent of node ${target.nodeName} at ${target.host}:${target.port}: ${why}`);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        if (error) reject(error);
        else resolve();
      };
      const upstream = https.request({
        host: target.host,
        port: target.port,
        path: target.path,
        method: 'GET',
        cert: this.deps.clientCertificate.certificatePem,
        key: this.deps.clientCertificate.keyPem,
        // The agent's certificate is self-signed: it is pinned by fingerprint below instead of chained to a CA.
        rejectUnauthorized: false,
        headers: { accept: 'text/plain' },
        agent: false,
      });
      const connectTimer = setTimeout(() => {
        upstream.destroy();
        settle(unreachable(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`));
      }, CONNECT_TIMEOUT_MS);
      upstream.on('socket', (socket) => {
        socket.once('secureConnect', () => {
          const der = (socket as TLSSocket).getPeerCertificate().raw;
          const fingerprint = der ? createHash('sha256').update(der).digest('hex') : '';
          if (fingerprint !== target.pin) {
            upstream.destroy();
            settle(new ApiError(502, 'BadGateway', `the agent of node ${target.nodeName} presented a certificate other than the one its Node publishes`));
          }
        });
      });
      upstream.on('error', (error) => settle(unreachable(errorMessage(error))));
      upstream.on('response', (agentResponse) => {
        clearTimeout(connectTimer);
        if (settled) return void agentResponse.destroy();
        if (agentResponse.statusCode !== 200) {
          let text = '';
          agentResponse.setEncoding('utf8');
          agentResponse.on('data', (chunk: string) => {
            if (text.length < 4096) text += chunk;
          });
          agentResponse.on('end', () => {
            const message = text.trim().slice(0, 1024) || `status ${agentResponse.statusCode}`;
            const code = agentResponse.statusCode ?? 502;
            if (code === 404) settle(new ApiError(404, 'NotFound', `node ${target.nodeName}: ${message}`));
            else if (code === 400) settle(badRequest(message));
            else settle(new ApiError(502, 'BadGateway', `the agent of node ${target.nodeName} answered ${code}: ${message}`));
          });
          return;
        }
        response.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
        // Backpressure both ways; the client leaving ends the agent's stream too.
        agentResponse.pipe(response);
        const stop = () => agentResponse.destroy();
        response.once('close', stop);
        agentResponse.once('end', () => settle());
        agentResponse.once('close', () => {
          if (!response.writableEnded) response.end();
          settle();
        });
      });
      request.once('close', () => {
        if (!response.headersSent) upstream.destroy();
      });
      upstream.end();
    });
  }
}
