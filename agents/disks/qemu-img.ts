// qemu-img, spoken through execFile argument arrays (never a shell). `info` always reads --output=json with
// -U (force-share), so observing a disk a running QEMU holds locked still works; create and resize take the
// write lock and fail while QEMU runs, which is why growth applies on the next start (see the CRD).
//
// `info` on an untrusted file (a freshly downloaded image) is bounded by a timeout and never follows a backing
// file: qemu-img info opens images without their backing chain unless --backing-chain is given.
import { execFile } from 'node:child_process';
import { DisksUnavailable } from './errors.ts';

export interface QemuImgInfo {
  format: string;
  virtualSizeBytes: number;
  actualSizeBytes?: number;
  /** Absolute backing path (full-backing-filename), when the image has one. */
  backingFile?: string;
  /** The backing file as written in the header, which may be relative. */
  backingFileRaw?: string;
  backingFormat?: string;
  /** Internal snapshots (qcow2), by name. */
  snapshots?: QemuImgSnapshot[];
}

export interface QemuImgSnapshot {
  name: string;
  /** When it was taken (seconds since the epoch, as qcow2 records it). */
  createdAtSeconds: number;
}

export interface QemuImgOptions {
  binary?: string;
  timeoutMs?: number;
}

export class QemuImg {
  private readonly binary: string;
  private readonly timeoutMs: number;

  constructor(options: QemuImgOptions = {}) {
    this.binary = options.binary ?? 'qemu-img';
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  async info(file: string, format?: string): Promise<QemuImgInfo> {
    // -f skips format probing: a raw image is read as raw whatever its first bytes look like.
    const stdout = await this.run(['info', '--output=json', '-U', ...(format ? ['-f', format] : []), file]);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(stdout) as Record<string, unknown>;
    } catch {
      throw new DisksUnavailable(`qemu-img info ${file}: output is not JSON: ${stdout.slice(0, 200)}`);
    }
    const virtualSize = parsed['virtual-size'];
    if (typeof parsed.format !== 'string' || typeof virtualSize !== 'number') {
      throw new DisksUnavailable(`qemu-img info ${file}: no format or virtual-size in ${stdout.slice(0, 200)}`);
    }
    const text = (key: string) => (typeof parsed[key] === 'string' ? (parsed[key] as string) : undefined);
    const info: QemuImgInfo = { format: parsed.format, virtualSizeBytes: virtualSize };
    if (typeof parsed['actual-size'] === 'number') info.actualSizeBytes = parsed['actual-size'];
    const backingRaw = text('backing-filename');
    if (backingRaw !== undefined) {
      info.backingFileRaw = backingRaw;
      info.backingFile = text('full-backing-filename') ?? backingRaw;
    }
    const backingFormat = text('backing-filename-format');
    if (backingFormat !== undefined) info.backingFormat = backingFormat;
    if (Array.isArray(parsed.snapshots)) {
      info.snapshots = (parsed.snapshots as Array<Record<string, unknown>>).flatMap((entry) => (typeof entry.name === 'string' ? [{ name: entry.name, createdAtSeconds: typeof entry['date-sec'] === 'number' ? entry['date-sec'] : 0 }] : []));
    }
    return info;
  }

  /** A qcow2 of sizeBytes, blank or an overlay of backing (recorded by its absolute path and explicit format). */
  async create(file: string, sizeBytes: number, backing?: { path: string; format: string }): Promise<void> {
    await this.run(['create', '-q', '-f', 'qcow2', ...(backing ? ['-b', backing.path, '-F', backing.format] : []), file, String(sizeBytes)]);
  }

  /** Grows a qcow2 to sizeBytes (never --shrink: the driver refuses shrinking before it gets here). */
  async resize(file: string, sizeBytes: number): Promise<void> {
    await this.run(['resize', '-q', '-f', 'qcow2', file, String(sizeBytes)]);
  }

  /**
   * A standalone qcow2 copy of `source` as it was at its internal snapshot `snapshot` (-l): the data of that
   * moment only, no backing file. -U reads a source a running QEMU holds (a snapshot's clusters never change).
   */
  async copyOfSnapshot(source: string, snapshot: string, target: string): Promise<void> {
    await this.run(['convert', '-q', '-U', '-f', 'qcow2', '-O', 'qcow2', '-l', `snapshot.name=${snapshot}`, source, target]);
  }

  /**
   * Takes an internal snapshot (needs the write lock: not while a QEMU has the file open). `qemu-img snapshot`
   * has no -f: it probes, which is safe here because only files the driver made itself (qcow2) get here.
   */
  async createSnapshot(file: string, snapshot: string): Promise<void> {
    await this.run(['snapshot', '-q', '-c', snapshot, file]);
  }

  async deleteSnapshot(file: string, snapshot: string): Promise<void> {
    await this.run(['snapshot', '-q', '-d', snapshot, file]);
  }

  private run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, args, { timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (!error) return resolve(String(stdout));
        const how = (error as { killed?: boolean }).killed ? `killed after ${this.timeoutMs} ms` : typeof (error as { code?: unknown }).code === 'number' ? `exited with ${(error as { code: number }).code}` : error.message;
        const detail = String(stderr).trim() || String(stdout).trim();
        const locked = /lock/i.test(detail) ? ' (the image is in use, probably by a running QEMU)' : '';
        reject(new DisksUnavailable(`${this.binary} ${args.join(' ')}: ${how}${detail ? `: ${detail}` : ''}${locked}`));
      });
    });
  }
}
