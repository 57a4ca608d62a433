// Streams an image from its source into a new file while hashing it, bounded in size and time. The driver
// verifies the hash and renames the file into the cache; this module never decides what a good image is.
//
// http(s) redirects are followed by hand (fetch's redirect: 'manual'), so each hop is checked: only http:
// and https: targets, never https → http, at most maxRedirects. A tenant's URL therefore cannot bounce the
// node into reading file:, data: or any other scheme. The size bound holds against a lying or absent
// Content-Length because bytes are counted as they arrive.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { DiskDriverError, DisksUnavailable, ImageFetchFailed, ImageSourceRefused, ImageTooLarge } from './errors.ts';

export interface FetchLimits {
  maxBytes: number;
  /** The whole transfer, headers to last byte. */
  timeoutMs: number;
  /** The longest wait for the next chunk: a stalled server fails long before timeoutMs. */
  idleTimeoutMs: number;
  maxRedirects: number;
}

export interface Fetched {
  sha256: string;
  sizeBytes: number;
}

const REDIRECT = new Set([301, 302, 303, 307, 308]);

/** The URL without credentials, for messages and conditions. */
export function redactUrl(url: URL | string): string {
  try {
    const copy = new URL(String(url));
    copy.username = '';
    copy.password = '';
    return copy.toString();
  } catch {
    return '<invalid URL>';
  }
}

/** Parses a source, accepting only http:, https: and file: URLs. */
export function parseSource(source: string): URL {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new ImageSourceRefused(`image source ${JSON.stringify(source.slice(0, 200))} is not a URL`);
  }
  if (!['http:', 'https:', 'file:'].includes(url.protocol)) throw new ImageSourceRefused(`image source scheme ${url.protocol} is not one of http:, https:, file:`);
  return url;
}

/** Writes the content of source into target (created here, must not exist) and returns its sha256 and size. */
export async function fetchToFile(source: string, target: string, limits: FetchLimits): Promise<Fetched> {
  const url = parseSource(source);
  const controller = new AbortController();
  let stopped: DiskDriverError | undefined;
  const stop = (error: DiskDriverError) => {
    stopped ??= error;
    controller.abort(error);
  };
  const overall = setTimeout(() => stop(new ImageFetchFailed(`${redactUrl(url)}: not complete after ${limits.timeoutMs} ms`)), limits.timeoutMs);
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => stop(new ImageFetchFailed(`${redactUrl(url)}: no data for ${limits.idleTimeoutMs} ms`)), limits.idleTimeoutMs);
  };
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > limits.maxBytes) return callback(new ImageTooLarge(`${redactUrl(url)}: more than ${limits.maxBytes} bytes`));
      hash.update(chunk);
      touch();
      callback(null, chunk);
    },
  });
  // The write stream owns its descriptor (a pipeline into a stream with autoClose: false never settles);
  // the data is fsynced through a second descriptor afterwards, which syncs the same inode.
  const handle = await fs.open(target, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
    throw new DisksUnavailable(`cannot create ${target}: ${error.message}`);
  });
  try {
    touch();
    const input = url.protocol === 'file:' ? await openFile(url, limits.maxBytes) : await openHttp(url, limits, controller.signal);
    await pipeline(input, meter, handle.createWriteStream(), { signal: controller.signal });
    const written = await fs.open(target, 'r');
    try {
      await written.sync();
    } finally {
      await written.close();
    }
    return { sha256: hash.digest('hex'), sizeBytes: size };
  } catch (error) {
    if (stopped) throw stopped;
    if (error instanceof DiskDriverError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS') throw new DisksUnavailable(`writing ${target}: ${(error as Error).message}`);
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new ImageFetchFailed(`${redactUrl(url)}: ${(error as Error).message}${cause ? ` (${cause})` : ''}`);
  } finally {
    clearTimeout(overall);
    clearTimeout(idle);
    // Closed by the write stream when the pipeline ran; here when it never started.
    await handle.close().catch(() => undefined);
  }
}

async function openFile(url: URL, maxBytes: number): Promise<Readable> {
  let file: string;
  try {
    file = fileURLToPath(url);
  } catch (error) {
    throw new ImageSourceRefused(`${redactUrl(url)}: ${(error as Error).message}`);
  }
  const handle = await fs.open(file, 'r');
  try {
    // A device or FIFO (file:///dev/zero) would stream forever or block; only regular files are images.
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ImageSourceRefused(`${file} is not a regular file`);
    if (stat.size > maxBytes) throw new ImageTooLarge(`${file} is ${stat.size} bytes, more than ${maxBytes}`);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle.createReadStream({ autoClose: true });
}

async function openHttp(start: URL, limits: FetchLimits, signal: AbortSignal): Promise<Readable> {
  let url = start;
  for (let hop = 0; ; hop++) {
    const response = await fetch(url, { redirect: 'manual', signal });
    if (REDIRECT.has(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      const location = response.headers.get('location');
      if (!location) throw new ImageFetchFailed(`${redactUrl(url)}: HTTP ${response.status} without a Location`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new ImageSourceRefused(`${redactUrl(url)}: redirect to an invalid URL`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new ImageSourceRefused(`${redactUrl(url)}: redirect to ${next.protocol} refused (only http: and https:)`);
      }
      if (url.protocol === 'https:' && next.protocol === 'http:') throw new ImageSourceRefused(`${redactUrl(url)}: redirect from https to http refused`);
      if (hop >= limits.maxRedirects) throw new ImageSourceRefused(`${redactUrl(start)}: more than ${limits.maxRedirects} redirects`);
      url = next;
      continue;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      throw new ImageFetchFailed(`${redactUrl(url)}: HTTP ${response.status} ${response.statusText}`.trim());
    }
    const length = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(length) && length > limits.maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw new ImageTooLarge(`${redactUrl(url)}: Content-Length ${length} is more than ${limits.maxBytes} bytes`);
    }
    return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }
}
