// The disks driver against real qemu-img in a temp directory, with images served from file:// and from a
// node http server on 127.0.0.1 that counts its hits. Everything created here is under one temp root, removed
// in afterAll; the server is closed there too.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ImageChecksumMismatch, QemuImgDiskDriver, type ImageSpec } from '../../agents/disks/index.ts';

const MI = 2 ** 20;
const VM_A = '0a1b2c3d-0000-4000-8000-00000000000a';
const VM_B = '0a1b2c3d-0000-4000-8000-00000000000b';

const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { encoding: 'utf8' });
const info = (file: string) => JSON.parse(qemuImg('info', '--output=json', '-U', file)) as Record<string, unknown>;
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const ls = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
const mtimes = (dir: string) => Object.fromEntries(ls(dir).map((entry) => [entry, fs.statSync(path.join(dir, entry)).mtimeMs]));

describe('QemuImgDiskDriver with real qemu-img', () => {
  let root: string;
  let base: string;
  let baseSha: string;
  let baseBytes: Buffer;
  let server: http.Server;
  let origin: string;
  const hits = new Map<string, number>();
  let n = 0;
  /** A driver on a state directory of its own, so each test sees its own cache. */
  const freshDriver = (options: Partial<ConstructorParameters<typeof QemuImgDiskDriver>[0]> = {}) =>
    new QemuImgDiskDriver({ stateDir: path.join(root, `state-${++n}`), ...options });
  const fileImage = (): ImageSpec => ({ source: pathToFileURL(base).href, sha256: baseSha, format: 'qcow2' });

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pdisks-'));
    base = path.join(root, 'base.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', base, '64M');
    baseBytes = fs.readFileSync(base);
    baseSha = sha256(base);
    server = http.createServer((request, response) => {
      const url = request.url ?? '/';
      hits.set(url, (hits.get(url) ?? 0) + 1);
      if (url === '/image.qcow2') {
        // Two writes with a pause, so concurrent callers overlap the download rather than finish one by one.
        response.writeHead(200, { 'content-length': baseBytes.length });
        response.write(baseBytes.subarray(0, 1024));
        setTimeout(() => response.end(baseBytes.subarray(1024)), 100);
      } else if (url === '/chunked.qcow2') {
        response.writeHead(200); // no Content-Length: the size bound must count bytes
        response.end(baseBytes);
      } else if (url === '/stall') {
        response.writeHead(200, { 'content-length': baseBytes.length });
        response.write(baseBytes.subarray(0, 1024)); // and nothing more
      } else if (url === '/to-file') {
        response.writeHead(302, { location: pathToFileURL(base).href }).end();
      } else if (url === '/to-http') {
        response.writeHead(301, { location: '/image.qcow2' }).end();
      } else if (url === '/loop') {
        response.writeHead(302, { location: '/loop' }).end();
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('caches a file:// image under its sha256, read-only, and reuses it without reading the source again', async () => {
    const driver = freshDriver();
    const first = await driver.ensureImage(fileImage());
    expect(first).toEqual({ path: path.join(driver.imagesDir, `${baseSha}.qcow2`), format: 'qcow2', sha256: baseSha, sizeBytes: baseBytes.length, virtualSizeBytes: 64 * MI, fetched: true });
    expect(sha256(first.path)).toBe(baseSha);
    expect(fs.statSync(first.path).mode & 0o777).toBe(0o444);
    const before = mtimes(driver.imagesDir);
    // A new driver on the same directory (an agent restart) trusts the verified name: the source may be gone.
    const renamed = path.join(root, 'moved.qcow2');
    fs.renameSync(base, renamed);
    try {
      const again = await new QemuImgDiskDriver({ stateDir: driver.stateDir }).ensureImage(fileImage());
      expect(again).toMatchObject({ path: first.path, fetched: false, virtualSizeBytes: 64 * MI });
    } finally {
      fs.renameSync(renamed, base);
    }
    expect(mtimes(driver.imagesDir)).toEqual(before);
    expect(ls(driver.imagesDir)).toEqual([`${baseSha}.qcow2`]);
  });

  it('a wrong checksum is a typed error with both sums, leaves no file, and creates no VM directory', async () => {
    const driver = freshDriver();
    const wrong = 'f'.repeat(64);
    const mismatch = driver.ensureImage({ ...fileImage(), sha256: wrong });
    await expect(mismatch).rejects.toBeInstanceOf(ImageChecksumMismatch);
    await expect(mismatch).rejects.toMatchObject({
      name: 'ImageChecksumMismatch',
      reason: 'ChecksumMismatch',
      permanent: true,
      expected: wrong,
      actual: baseSha,
      message: expect.stringContaining(`sha256 is ${baseSha}, expected ${wrong}`),
    });
    expect(ls(driver.imagesDir)).toEqual([]);
    await expect(driver.ensureVmDisks(VM_A, { boot: { image: { ...fileImage(), sha256: wrong } }, data: [{ name: 'data', size: '8Mi' }] })).rejects.toMatchObject({ reason: 'ChecksumMismatch' });
    expect(ls(driver.imagesDir)).toEqual([]);
    expect(fs.existsSync(driver.vmDir(VM_A))).toBe(false);
    expect(await driver.listVmUids()).toEqual([]);
  });

  it('fetches over http once for concurrent callers and once per node across driver restarts', async () => {
    const driver = freshDriver();
    const image: ImageSpec = { source: `${origin}/image.qcow2`, sha256: baseSha, format: 'qcow2' };
    hits.delete('/image.qcow2');
    const results = await Promise.all([driver.ensureImage(image), driver.ensureImage(image), driver.ensureImage(image)]);
    expect(hits.get('/image.qcow2')).toBe(1);
    expect(results.map((result) => result.fetched).sort()).toEqual([false, false, true]);
    expect(new Set(results.map((result) => result.path)).size).toBe(1);
    expect(sha256(results[0].path)).toBe(baseSha);
    expect(await new QemuImgDiskDriver({ stateDir: driver.stateDir }).ensureImage(image)).toMatchObject({ fetched: false });
    expect(hits.get('/image.qcow2')).toBe(1);
    expect(ls(driver.imagesDir)).toEqual([`${baseSha}.qcow2`]);
  });

  it('follows an http redirect to http but refuses one to file:, a loop, and unknown schemes', async () => {
    const driver = freshDriver({ maxRedirects: 3 });
    expect(await driver.ensureImage({ source: `${origin}/to-http`, sha256: baseSha, format: 'qcow2' })).toMatchObject({ fetched: true });
    const other = freshDriver({ maxRedirects: 3 });
    await expect(other.ensureImage({ source: `${origin}/to-file`, sha256: baseSha, format: 'qcow2' })).rejects.toMatchObject({
      reason: 'SourceRefused',
      message: expect.stringContaining('redirect to file: refused'),
    });
    await expect(other.ensureImage({ source: `${origin}/loop`, sha256: baseSha, format: 'qcow2' })).rejects.toMatchObject({ reason: 'SourceRefused', message: expect.stringContaining('more than 3 redirects') });
    await expect(other.ensureImage({ source: 'ftp://127.0.0.1/x', sha256: baseSha, format: 'qcow2' })).rejects.toMatchObject({ reason: 'SourceRefused' });
    await expect(other.ensureImage({ source: pathToFileURL('/dev/zero').href, sha256: baseSha, format: 'raw' })).rejects.toMatchObject({ reason: 'SourceRefused', message: expect.stringContaining('not a regular file') });
    await expect(other.ensureImage({ source: `${origin}/missing`, sha256: baseSha, format: 'qcow2' })).rejects.toMatchObject({ reason: 'ImageFetchFailed', permanent: false, message: expect.stringContaining('HTTP 404') });
    await expect(other.ensureImage({ source: 'http://127.0.0.1:1/x', sha256: baseSha, format: 'qcow2' })).rejects.toMatchObject({ reason: 'ImageFetchFailed', permanent: false });
    expect(ls(other.imagesDir)).toEqual([]);
  });

  it('bounds size (by Content-Length and by counting a chunked body) and stalls, leaving nothing behind', async () => {
    const driver = freshDriver({ maxImageBytes: 64 * 1024, fetchIdleTimeoutMs: 300 });
    await expect(driver.ensureImage({ source: `${origin}/image.qcow2`, sha256: baseSha, format: 'qcow2' })).rejects.toMatchObject({ reason: 'ImageTooLarge', message: expect.stringContaining('Content-Length') });
    await expect(driver.ensureImage({ source: `${origin}/chunked.qcow2`, sha256: baseSha, format: 'qcow2' })).rejects.toMatchObject({ reason: 'ImageTooLarge', message: expect.stringContaining('more than 65536 bytes') });
    await expect(driver.ensureImage(fileImage())).rejects.toMatchObject({ reason: 'ImageTooLarge' });
    const started = Date.now();
    await expect(freshDriver({ fetchIdleTimeoutMs: 300 }).ensureImage({ source: `${origin}/stall`, sha256: baseSha, format: 'qcow2' })).rejects.toMatchObject({
      reason: 'ImageFetchFailed',
      message: expect.stringContaining('no data for 300 ms'),
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(ls(driver.imagesDir)).toEqual([]);
  });

  it('refuses a "qcow2" that is not one and a qcow2 with its own backing file', async () => {
    const driver = freshDriver();
    const raw = path.join(root, 'plain.raw');
    fs.writeFileSync(raw, Buffer.alloc(4096, 1));
    await expect(driver.ensureImage({ source: pathToFileURL(raw).href, sha256: sha256(raw), format: 'qcow2' })).rejects.toMatchObject({ reason: 'InvalidImage', message: expect.stringContaining('reads it as raw') });
    // As raw it is fine: raw images are always opened with an explicit format.
    expect(await driver.ensureImage({ source: pathToFileURL(raw).href, sha256: sha256(raw), format: 'raw' })).toMatchObject({ virtualSizeBytes: 4096, fetched: true });
    const sneaky = path.join(root, 'sneaky.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', sneaky, '1M');
    await expect(driver.ensureImage({ source: pathToFileURL(sneaky).href, sha256: sha256(sneaky), format: 'qcow2' })).rejects.toMatchObject({ reason: 'InvalidImage', message: expect.stringContaining('backing file (/etc/passwd)') });
    expect(ls(driver.imagesDir)).toEqual([`${sha256(raw)}.raw`]);
  });

  it('builds an overlay boot disk and a blank data disk, is idempotent, grows and refuses to shrink', async () => {
    const driver = freshDriver();
    const image = fileImage();
    const disks = await driver.ensureVmDisks(VM_A, { boot: { image, size: '128Mi' }, data: [{ name: 'data', size: '32Mi' }] });
    const dir = driver.vmDir(VM_A);
    const imagePath = driver.imagePath(image);
    expect(disks).toMatchObject({
      dir,
      boot: { name: 'boot', path: path.join(dir, 'boot.qcow2'), format: 'qcow2', sizeBytes: 128 * MI, backingFile: imagePath },
      data: [{ name: 'data', path: path.join(dir, 'disk-data.qcow2'), format: 'qcow2', sizeBytes: 32 * MI }],
    });
    expect(disks.actions.map((action) => action.op)).toEqual(['create', 'create']);
    expect(info(disks.boot!.path)).toMatchObject({ format: 'qcow2', 'virtual-size': 128 * MI, 'backing-filename': imagePath, 'backing-filename-format': 'qcow2' });
    const data = info(disks.data[0].path);
    expect(data).toMatchObject({ format: 'qcow2', 'virtual-size': 32 * MI });
    expect(data['backing-filename']).toBeUndefined();
    expect(ls(dir)).toEqual(['boot.qcow2', 'disk-data.qcow2']);

    const before = mtimes(dir);
    const again = await driver.ensureVmDisks(VM_A, { boot: { image, size: '128Mi' }, data: [{ name: 'data', size: '32Mi' }] });
    expect(again.actions).toEqual([]);
    expect(again.boot).toEqual(disks.boot);
    expect(again.data).toEqual(disks.data);
    expect(mtimes(dir)).toEqual(before);

    const grown = await driver.ensureVmDisks(VM_A, { boot: { image, size: '128Mi' }, data: [{ name: 'data', size: '64Mi' }] });
    expect(grown.actions).toEqual([{ op: 'resize', name: 'data', file: 'disk-data.qcow2', fromBytes: 32 * MI, toBytes: 64 * MI }]);
    expect(info(grown.data[0].path)['virtual-size']).toBe(64 * MI);
    expect(mtimes(dir)['boot.qcow2']).toBe(before['boot.qcow2']);

    // A shrink anywhere refuses the whole call: the data disk that could be created is not.
    await expect(driver.ensureVmDisks(VM_A, { boot: { image, size: '128Mi' }, data: [{ name: 'data', size: '16Mi' }, { name: 'logs', size: '8Mi' }] })).rejects.toMatchObject({
      reason: 'DiskShrinkRefused',
      disk: 'data',
      currentBytes: 64 * MI,
      desiredBytes: 16 * MI,
    });
    await expect(driver.ensureVmDisks(VM_A, { boot: { image, size: '32Mi' }, data: [{ name: 'data', size: '64Mi' }] })).rejects.toMatchObject({ reason: 'DiskShrinkRefused', disk: 'boot' });
    expect(info(grown.data[0].path)['virtual-size']).toBe(64 * MI);
    expect(ls(dir)).toEqual(['boot.qcow2', 'disk-data.qcow2']);

    await expect(driver.ensureVmDisks(VM_A, { data: [{ name: 'Bad_Name', size: '1Mi' }] })).rejects.toMatchObject({ reason: 'InvalidDiskSpec' });
    await expect(driver.ensureVmDisks(VM_A, { data: [{ name: 'x', size: '-1Gi' }] })).rejects.toMatchObject({ reason: 'InvalidDiskSpec' });
    await expect(driver.ensureVmDisks('../escape', { data: [] })).rejects.toMatchObject({ reason: 'InvalidDiskSpec' });
    expect(ls(dir)).toEqual(['boot.qcow2', 'disk-data.qcow2']);
  });

  it('an overlay without a size takes the image size; removing an entry deletes that disk; crash leftovers are cleaned', async () => {
    const driver = freshDriver();
    const image = fileImage();
    const disks = await driver.ensureVmDisks(VM_A, { boot: { image }, data: [{ name: 'a', size: '1Mi' }, { name: 'b', size: '1Mi' }] });
    expect(disks.boot!.sizeBytes).toBe(64 * MI);
    const dir = disks.dir;
    // What a driver killed between qemu-img create and rename leaves, and a partial image download.
    fs.writeFileSync(path.join(dir, '.disk-c.qcow2.deadbeef0000.tmp'), 'half');
    fs.writeFileSync(path.join(driver.imagesDir, `.${'e'.repeat(64)}.qcow2.deadbeef0000.part`), 'half');
    fs.writeFileSync(path.join(dir, 'console.log'), 'not ours');
    const next = await driver.ensureVmDisks(VM_A, { boot: { image }, data: [{ name: 'b', size: '1Mi' }, { name: 'c', size: '2Mi' }] });
    expect(next.actions).toEqual([
      { op: 'create', name: 'c', file: 'disk-c.qcow2', sizeBytes: 2 * MI },
      { op: 'remove', file: '.disk-c.qcow2.deadbeef0000.tmp' },
      { op: 'remove', file: 'disk-a.qcow2' },
    ]);
    expect(next.data.map((disk) => disk.name)).toEqual(['b', 'c']);
    expect(ls(dir)).toEqual(['boot.qcow2', 'console.log', 'disk-b.qcow2', 'disk-c.qcow2']);
    // The stale .part is another image's: only a download of that image clears it.
    await expect(driver.ensureImage({ source: pathToFileURL(base).href, sha256: 'e'.repeat(64), format: 'qcow2' })).rejects.toMatchObject({ reason: 'ChecksumMismatch' });
    expect(ls(driver.imagesDir)).toEqual([`${baseSha}.qcow2`]);
  });

  it('removeVmDisks removes everything of that VM only; listVmUids lists VMs with disks', async () => {
    const driver = freshDriver();
    const image = fileImage();
    await driver.ensureVmDisks(VM_A, { boot: { image }, data: [{ name: 'data', size: '1Mi' }] });
    await driver.ensureVmDisks(VM_B, { boot: { image }, data: [{ name: 'data', size: '1Mi' }] });
    fs.mkdirSync(path.join(driver.vmsDir, '.not-a-vm'));
    expect(await driver.listVmUids()).toEqual([VM_A, VM_B]);
    const bBefore = mtimes(driver.vmDir(VM_B));
    expect(await driver.removeVmDisks(VM_A)).toBe(true);
    expect(fs.existsSync(driver.vmDir(VM_A))).toBe(false);
    expect(await driver.removeVmDisks(VM_A)).toBe(false);
    expect(await driver.listVmUids()).toEqual([VM_B]);
    expect(mtimes(driver.vmDir(VM_B))).toEqual(bBefore);
    expect(ls(driver.imagesDir)).toEqual([`${baseSha}.qcow2`]);
    // B's overlay still reads through to the image.
    execFileSync('qemu-img', ['check', '-q', path.join(driver.vmDir(VM_B), 'boot.qcow2')]);
  });
});
