// The block storage driver Ceph RBD Volumes are made through (`CephRbdDriver`, behind `BlockStorageDriver`):
// Ceph's own `rbd` and `ceph` tools, run with argument arrays (never a shell) against one cluster
// (CephClientConfig: ceph.conf, client id, keyring). Every operation is idempotent, so a controller killed
// between two calls simply calls again: creating what exists, protecting what is protected or removing what is
// gone succeeds. Refusals that a user must act on (an image with snapshots, a snapshot with clones, an image
// still open by a VM) are typed errors saying so.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type ExecResult } from '../ovn-local/commands.ts';
import { writePrivateFileAtomic } from '../../lib/private-file.ts';
import { keyOf, type CephClientConfig } from './client.ts';

export interface RbdImage {
  pool: string;
  name: string;
  sizeBytes: number;
  /** When the image was created (ISO 8601), as Ceph reports it. */
  createdAt?: string;
  /** The snapshot this image is a copy-on-write clone of, until flattened. */
  parent?: { pool: string; image: string; snapshot: string };
}

export interface RbdSnapshot {
  name: string;
  sizeBytes: number;
  protected: boolean;
  /** When it was taken (ISO 8601). */
  createdAt: string;
}

/** What the storage controllers need from a distributed block store. */
export interface BlockStorageDriver {
  /** Makes the pool exist, initialised for RBD, with `replicas` copies of every object. */
  ensurePool(pool: string, replicas: number): Promise<void>;
  /** The image, or undefined when it does not exist. */
  image(pool: string, name: string): Promise<RbdImage | undefined>;
  /** The names of the pool's images ([] when the pool does not exist). */
  imageNames(pool: string): Promise<string[]>;
  /** Creates a blank image of sizeBytes (an existing one is left as it is); true when this call created it. */
  createImage(pool: string, name: string, sizeBytes: number, metadata?: Record<string, string>): Promise<boolean>;
  /** Grows the image to sizeBytes; never shrinks (ShrinkRefusedError). */
  growImage(pool: string, name: string, sizeBytes: number): Promise<void>;
  /** Removes the image (gone already: fine); ImageHasSnapshotsError, ImageInUseError. */
  removeImage(pool: string, name: string): Promise<void>;
  /** Takes a protected snapshot (clones need protection) and returns it. */
  createSnapshot(pool: string, image: string, snapshot: string): Promise<RbdSnapshot>;
  snapshots(pool: string, image: string): Promise<RbdSnapshot[]>;
  /** The images cloned from a snapshot that still depend on it, as pool/name. */
  clonesOf(pool: string, image: string, snapshot: string): Promise<string[]>;
  /** Unprotects and removes a snapshot (gone already: fine); SnapshotHasClonesError while clones depend on it. */
  removeSnapshot(pool: string, image: string, snapshot: string): Promise<void>;
  /** Creates `target` as a copy-on-write clone of a protected snapshot (an existing target is left as it is). */
  clone(source: { pool: string; image: string; snapshot: string }, target: { pool: string; name: string }, metadata?: Record<string, string>): Promise<void>;
  /** Copies every block of the parent into the image, which then no longer depends on it. */
  flatten(pool: string, name: string): Promise<void>;
  /** Clients that have the image open (a VM's QEMU), as Ceph reports them (address strings). */
  watchers(pool: string, name: string): Promise<string[]>;
  /** Makes `name` (sizeBytes) and writes a disk image file (qcow2 or raw) into it as raw blocks. */
  importImage(pool: string, name: string, file: { path: string; format: 'qcow2' | 'raw' }, sizeBytes: number): Promise<void>;
  /**
   * Fences clients (addresses from watchers()): the cluster refuses them from now on, so a QEMU left running on
   * a node declared dead can no longer write once its VM starts elsewhere. Idempotent.
   */
  fence(addresses: readonly string[]): Promise<void>;
}

/** Ceph refused or could not be reached; `retryable` when trying again later may succeed. */
export class RbdError extends Error {
  constructor(
    message: string,
    readonly errno: number | undefined,
    readonly reason = 'CephError',
    readonly retryable = true,
  ) {
    super(message);
  }
}
export class ImageHasSnapshotsError extends RbdError {}
export class ImageInUseError extends RbdError {}
export class SnapshotHasClonesError extends RbdError {}
export class ShrinkRefusedError extends RbdError {}

const ENOENT = 2;
const EBUSY = 16;
const EEXIST = 17;
const ENOTEMPTY = 39;
/** Ordinary calls; flatten and import copy a whole image and get longer. */
const CALL_TIMEOUT_MS = 60_000;
const FLATTEN_TIMEOUT_MS = 30 * 60_000;
const CEPH_NAME = /^[A-Za-z0-9_.-]{1,253}$/;

export class CephRbdDriver implements BlockStorageDriver {
  constructor(private readonly client: CephClientConfig) {}

  async ensurePool(pool: string, replicas: number): Promise<void> {
    // A pool with more copies than OSDs never becomes active, and everything on it (even `rbd pool init`)
    // blocks: say so instead.
    const osds = JSON.parse((await this.ceph(['osd', 'stat', '--format', 'json'])).stdout) as { num_in_osds?: number };
    if ((osds.num_in_osds ?? 0) < replicas) throw new RbdError(`a pool with ${replicas} copies needs ${replicas} OSDs; the cluster has ${osds.num_in_osds ?? 0} in`, undefined, 'NotEnoughOSDs');
    const pools = JSON.parse((await this.ceph(['osd', 'pool', 'ls', '--format', 'json'])).stdout) as string[];
    if (!pools.includes(pool)) {
      await this.ceph(['osd', 'pool', 'create', pool]);
      // `rbd pool init` tags the pool for RBD and creates its directory objects; harmless when repeated.
      await this.rbd(['pool', 'init', pool], { timeoutMs: 120_000 });
    }
    const { size } = JSON.parse((await this.ceph(['osd', 'pool', 'get', pool, 'size', '--format', 'json'])).stdout) as { size: number };
    if (size !== replicas) {
      // Ceph wants a single copy confirmed: it is what a one-node development cluster can hold.
      await this.ceph(['osd', 'pool', 'set', pool, 'size', String(replicas), ...(replicas === 1 ? ['--yes-i-really-mean-it'] : [])]);
    }
  }

  async image(pool: string, name: string): Promise<RbdImage | undefined> {
    const result = await this.rbd(['info', '--format', 'json', spec(pool, name)], { allow: [ENOENT] });
    if (result.errno === ENOENT) return undefined;
    const info = JSON.parse(result.stdout) as { size: number; create_timestamp?: string; parent?: { pool: string; image: string; snapshot: string } };
    const created = info.create_timestamp ? new Date(info.create_timestamp) : undefined;
    return {
      pool,
      name,
      sizeBytes: info.size,
      ...(created && !Number.isNaN(created.getTime()) ? { createdAt: created.toISOString() } : {}),
      ...(info.parent ? { parent: { pool: info.parent.pool, image: info.parent.image, snapshot: info.parent.snapshot } } : {}),
    };
  }

  async imageNames(pool: string): Promise<string[]> {
    const result = await this.rbd(['ls', '--format', 'json', pool], { allow: [ENOENT] });
    return result.errno === ENOENT ? [] : (JSON.parse(result.stdout) as string[]);
  }

  async createImage(pool: string, name: string, sizeBytes: number, metadata: Record<string, string> = {}): Promise<boolean> {
    const result = await this.rbd(['create', '--size', `${sizeBytes}B`, spec(pool, name)], { allow: [EEXIST] });
    await this.setMetadata(pool, name, metadata);
    return result.errno !== EEXIST;
  }

  async growImage(pool: string, name: string, sizeBytes: number): Promise<void> {
    const current = await this.image(pool, name);
    if (!current) throw new RbdError(`image ${spec(pool, name)} does not exist`, ENOENT, 'ImageNotFound');
    if (current.sizeBytes === sizeBytes) return;
    if (current.sizeBytes > sizeBytes) throw new ShrinkRefusedError(`image ${spec(pool, name)} is ${current.sizeBytes} bytes: it is never shrunk to ${sizeBytes}`, undefined, 'ShrinkRefused', false);
    await this.rbd(['resize', '--size', `${sizeBytes}B`, spec(pool, name)]);
  }

  async removeImage(pool: string, name: string): Promise<void> {
    const result = await this.rbd(['rm', '--no-progress', spec(pool, name)], { allow: [ENOENT, ENOTEMPTY, EBUSY] });
    if (result.errno === ENOTEMPTY) throw new ImageHasSnapshotsError(`image ${spec(pool, name)} has snapshots`, ENOTEMPTY, 'ImageHasSnapshots', false);
    if (result.errno === EBUSY || /watchers/.test(result.stderr)) throw new ImageInUseError(`image ${spec(pool, name)} is open by a client (a VM still uses it)`, EBUSY, 'ImageInUse');
  }

  async createSnapshot(pool: string, image: string, snapshot: string): Promise<RbdSnapshot> {
    await this.rbd(['snap', 'create', '--no-progress', `${spec(pool, image)}@${snapshot}`], { allow: [EEXIST] });
    await this.rbd(['snap', 'protect', `${spec(pool, image)}@${snapshot}`], { allow: [EBUSY] });
    const taken = (await this.snapshots(pool, image)).find((entry) => entry.name === snapshot);
    if (!taken) throw new RbdError(`snapshot ${spec(pool, image)}@${snapshot} vanished right after it was taken`, ENOENT);
    return taken;
  }

  async snapshots(pool: string, image: string): Promise<RbdSnapshot[]> {
    const result = await this.rbd(['snap', 'ls', '--format', 'json', spec(pool, image)], { allow: [ENOENT] });
    if (result.errno === ENOENT) return [];
    return (JSON.parse(result.stdout) as { name: string; size: number; protected: string; timestamp: string }[]).map((entry) => ({
      name: entry.name,
      sizeBytes: entry.size,
      protected: entry.protected === 'true',
      createdAt: new Date(entry.timestamp).toISOString(),
    }));
  }

  async clonesOf(pool: string, image: string, snapshot: string): Promise<string[]> {
    const result = await this.rbd(['children', '--format', 'json', `${spec(pool, image)}@${snapshot}`], { allow: [ENOENT] });
    if (result.errno === ENOENT) return [];
    return (JSON.parse(result.stdout) as { pool: string; image: string }[]).map((child) => spec(child.pool, child.image));
  }

  async removeSnapshot(pool: string, image: string, snapshot: string): Promise<void> {
    const name = `${spec(pool, image)}@${snapshot}`;
    // EINVAL: not protected (already unprotected by an earlier, interrupted call).
    const unprotect = await this.rbd(['snap', 'unprotect', name], { allow: [ENOENT, EBUSY, 22] });
    if (unprotect.errno === EBUSY) {
      const clones = await this.clonesOf(pool, image, snapshot);
      throw new SnapshotHasClonesError(`snapshot ${name} has clones that depend on it: ${clones.join(', ')}`, EBUSY, 'SnapshotHasClones', false);
    }
    await this.rbd(['snap', 'rm', '--no-progress', name], { allow: [ENOENT] });
  }

  async clone(source: { pool: string; image: string; snapshot: string }, target: { pool: string; name: string }, metadata: Record<string, string> = {}): Promise<void> {
    await this.rbd(['clone', `${spec(source.pool, source.image)}@${source.snapshot}`, spec(target.pool, target.name)], { allow: [EEXIST] });
    await this.setMetadata(target.pool, target.name, metadata);
  }

  async flatten(pool: string, name: string): Promise<void> {
    // EINVAL: the image has no parent (flattened already).
    await this.rbd(['flatten', '--no-progress', spec(pool, name)], { allow: [22], timeoutMs: FLATTEN_TIMEOUT_MS });
  }

  async watchers(pool: string, name: string): Promise<string[]> {
    const result = await this.rbd(['status', '--format', 'json', spec(pool, name)], { allow: [ENOENT] });
    if (result.errno === ENOENT) return [];
    return ((JSON.parse(result.stdout) as { watchers?: { address: string }[] }).watchers ?? []).map((watcher) => watcher.address);
  }

  async importImage(pool: string, name: string, file: { path: string; format: 'qcow2' | 'raw' }, sizeBytes: number): Promise<void> {
    if (!CEPH_NAME.test(pool) || !CEPH_NAME.test(name)) throw new RbdError(`not a Ceph pool/image name: ${JSON.stringify(`${pool}/${name}`)}`, 22, 'CephError', false);
    // qemu-img reads the target as an option list: a comma in the conf path would end it.
    if (this.client.conf.includes(',')) throw new RbdError(`the Ceph conf path ${this.client.conf} contains a comma, which qemu-img cannot take`, 22, 'CephError', false);
    await this.createImage(pool, name, sizeBytes);
    // The key goes to qemu-img in a private file (a secret object), never on its command line.
    const keyFile = path.join(os.tmpdir(), `photon-ceph-${crypto.randomBytes(8).toString('hex')}.key`);
    writePrivateFileAtomic(keyFile, keyOf(this.client));
    try {
      const result = await run(
        'qemu-img',
        ['convert', '-n', '-f', file.format, '--object', `secret,id=cephkey,file=${keyFile.replaceAll(',', ',,')},format=base64`, '--target-image-opts', file.path, `driver=rbd,pool=${pool},image=${name},conf=${this.client.conf},user=${this.client.id},key-secret=cephkey`],
        { timeoutMs: FLATTEN_TIMEOUT_MS },
      );
      if (result.code !== 0) throw new RbdError(`qemu-img convert ${file.path} into ${spec(pool, name)}: ${result.stderr.trim() || `exit status ${result.code}`}`, undefined);
    } finally {
      fs.rmSync(keyFile, { force: true });
    }
  }

  async fence(addresses: readonly string[]): Promise<void> {
    for (const address of addresses) {
      if (!/^[0-9A-Fa-f.:[\]]+:\d+\/\d+$/.test(address)) throw new RbdError(`not a Ceph client address: ${JSON.stringify(address)}`, 22, 'CephError', false);
      await this.ceph(['osd', 'blocklist', 'add', address]);
    }
  }

  private async setMetadata(pool: string, name: string, metadata: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(metadata)) await this.rbd(['image-meta', 'set', spec(pool, name), key, value]);
  }

  private rbd(args: string[], options: CallOptions = {}): Promise<CallResult> {
    return this.call('rbd', args, options);
  }

  private ceph(args: string[], options: CallOptions = {}): Promise<CallResult> {
    return this.call('ceph', ['--connect-timeout', '15', ...args], options);
  }

  private async call(program: 'rbd' | 'ceph', args: string[], options: CallOptions): Promise<CallResult> {
    const { conf, id, keyring } = this.client;
    const result: ExecResult = await run(program, ['--conf', conf, '--id', id, '--keyring', keyring, ...args], { timeoutMs: options.timeoutMs ?? CALL_TIMEOUT_MS });
    if (result.code === 0) return { ...result, errno: undefined };
    const errno = errnoOf(result);
    if (errno !== undefined && options.allow?.includes(errno)) return { ...result, errno };
    const detail = result.stderr.split('\n').filter((line) => line.trim() && !/^\d{4}-\d\d-\d\dT/.test(line)).slice(-2).join(' ').trim() || `exit status ${result.code}`;
    throw new RbdError(`${program} ${args.filter((arg) => !arg.startsWith('--')).slice(0, 4).join(' ')}: ${detail}`, errno);
  }
}

interface CallOptions {
  /** errnos that are an answer, not a failure (ENOENT for "gone already", EEXIST for "made already"). */
  allow?: number[];
  timeoutMs?: number;
}

interface CallResult extends ExecResult {
  errno: number | undefined;
}

const spec = (pool: string, name: string) => `${pool}/${name}`;

/** The errno Ceph's tools print as "(17) File exists", or a known message without one. */
function errnoOf(result: ExecResult): number | undefined {
  const text = result.stderr;
  // The tool's own verdict is its last numbered error; earlier ones may be librados warnings (a keyring path tried).
  const numbered = [...text.matchAll(/\((\d+)\) [A-Z]/g)].pop();
  if (numbered) return Number(numbered[1]);
  if (/already (protected|exists)/.test(text)) return /protected/.test(text) ? EBUSY : EEXIST;
  if (/image has snapshots/.test(text)) return ENOTEMPTY;
  if (/still has watchers/.test(text)) return EBUSY;
  if (/not protected/.test(text)) return 22;
  if (/no parent|not a clone/i.test(text)) return 22;
  if (/shrinking an image/.test(text)) return 22;
  return undefined;
}
