// The one request `photon login` makes: POST <server>/login over HTTPS (never plain HTTP: the body is a
// password), trusting the given CA, the system's CAs, or (asked for explicitly) nothing.
import https from 'node:https';

export interface LoginAnswer {
  status: number;
  /** Retry-After in seconds, when the server sent one. */
  retryAfterSeconds?: number;
  /** The parsed body: the token on 200, a Status otherwise (undefined when it was not JSON). */
  body: unknown;
}

export interface LoginCall {
  server: URL;
  username: string;
  password: string;
  expirationSeconds?: number;
  certificateAuthorityPem?: string;
  insecureSkipTlsVerify?: boolean;
  timeoutMs?: number;
}

/** <server>/login, keeping a path prefix the server URL may have (a proxy's, say). */
export function loginUrl(server: URL): URL {
  const base = server.href.endsWith('/') ? server.href : `${server.href}/`;
  return new URL('login', base);
}

const MAX_ANSWER_BYTES = 64 * 1024;

export function postLogin(call: LoginCall): Promise<LoginAnswer> {
  if (call.server.protocol !== 'https:') return Promise.reject(new Error(`refusing to send a password to ${call.server.origin}: not https`));
  const body = JSON.stringify({ username: call.username, password: call.password, ...(call.expirationSeconds ? { expirationSeconds: call.expirationSeconds } : {}) });
  return new Promise((resolve, reject) => {
    const request = https.request(
      loginUrl(call.server),
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(body), 'User-Agent': 'photon-login' },
        // `ca` replaces the system's CAs: the cluster's own CA is then the only one trusted for this request.
        ...(call.certificateAuthorityPem ? { ca: call.certificateAuthorityPem } : {}),
        rejectUnauthorized: !call.insecureSkipTlsVerify,
        timeout: call.timeoutMs ?? 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) return request.destroy(new Error('the server answered with an oversized body'));
          chunks.push(chunk);
        });
        response.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            parsed = undefined;
          }
          const retryAfter = Number(response.headers['retry-after']);
          resolve({ status: response.statusCode ?? 0, retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined, body: parsed });
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${call.server.origin} within ${(call.timeoutMs ?? 30_000) / 1000} s`)));
    request.on('error', reject);
    request.end(body);
  });
}
