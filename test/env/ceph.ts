// A real one-node Ceph for the tests (agents/ceph/local.ts: monitor and a BlueStore OSD on a sparse file, and
// radosgw when asked, all on ports of its own), in a temporary directory removed by stop(), and the `rbd` tool as an
// operator runs it to check what the controllers made.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, runChecked } from '../../agents/ovn-local/commands.ts';
import { startLocalCeph, type CephClientConfig, type LocalCeph, type LocalS3 } from '../../agents/ceph/index.ts';
import { ensureHostServicesAddress, HOST_SERVICES_ADDRESS } from '../../agents/ovn-local/uplink.ts';

export interface TestCeph {
  cluster: LocalCeph;
  client: CephClientConfig;
  /** With { rgw: true }: the S3 gateway and its admin user. */
  s3?: LocalS3;
  /** `rbd …args` as an operator runs it; rejects on a non-zero exit. */
  rbd(...args: string[]): Promise<string>;
  /** `ceph …args --format json`, parsed. */
  ceph(...args: string[]): Promise<any>;
  /** `ceph …args` as text (stdout). */
  cephText(...args: string[]): Promise<string>;
  /** `rbd info --format json pool/image`, or undefined when the image does not exist. */
  rbdInfo(pool: string, image: string): Promise<{ size: number; parent?: { pool: string; image: string; snapshot: string } } | undefined>;
  /** `qemu-io -c command` on an image through QEMU's rbd driver (librbd, as a VM reaches it); its output. */
  qemuIo(pool: string, image: string, command: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestCeph(options: { rgw?: boolean } = {}): Promise<TestCeph> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-ceph-'));
  // No manager: RBD and QEMU do not need it, and it is the slowest and largest daemon (~300 MiB).
  // On the host services address, so QEMUs in chassis namespaces reach it too (agents/ovn-local/uplink.ts).
  await ensureHostServicesAddress();
  const cluster = await startLocalCeph({ dir, manager: false, osdBytes: 4 * 1024 ** 3, address: HOST_SERVICES_ADDRESS, rgw: options.rgw }).catch((error) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const clientArgs = ['--conf', cluster.client.conf, '--id', cluster.client.id, '--keyring', cluster.client.keyring];
  return {
    cluster,
    client: cluster.client,
    ...(cluster.s3 ? { s3: cluster.s3 } : {}),
    ceph: async (...args) => JSON.parse(await runChecked('ceph', [...clientArgs, ...args, '--format', 'json'], { timeoutMs: 60_000 })),
    cephText: (...args) => runChecked('ceph', [...clientArgs, ...args], { timeoutMs: 60_000 }),
    rbd: (...args) => runChecked('rbd', [...clientArgs, ...args], { timeoutMs: 60_000 }),
    async rbdInfo(pool, image) {
      const result = await run('rbd', [...clientArgs, 'info', '--format', 'json', `${pool}/${image}`], { timeoutMs: 60_000 });
      if (result.code !== 0) {
        if (/No such file/.test(result.stderr)) return undefined;
        throw new Error(`rbd info ${pool}/${image}: ${result.stderr}`);
      }
      return JSON.parse(result.stdout);
    },
    async qemuIo(pool, image, command) {
      const target = `rbd:${pool}/${image}:conf=${cluster.client.conf}:id=${cluster.client.id}:keyring=${cluster.client.keyring}`;
      const result = await run('qemu-io', ['-f', 'raw', '-c', command, target], { timeoutMs: 60_000 });
      // qemu-io reports a failed pattern check on stdout with exit status 0.
      if (result.code !== 0 || /Pattern verification failed|failed:/.test(result.stdout)) throw new Error(`qemu-io ${command} on ${pool}/${image}: ${result.stdout}${result.stderr}`);
      return result.stdout;
    },
    async stop() {
      await cluster.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
