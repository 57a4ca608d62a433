import { describe, expect, it } from '@jest/globals';
import { qemuArgv, vmPaths, VmSpecError, type VmSpec } from './argv.ts';

const UID = '3f2b8c1e-9d4a-4e6f-8b7c-1a2b3c4d5e6f';
const paths = vmPaths('/var/lib/photon/vms', UID);
const base: VmSpec = {
  uid: UID,
  name: 'web-1',
  cpuCores: 2,
  memoryBytes: 512 * 1024 * 1024,
  accel: 'tcg',
  boot: { kernel: '/images/vmlinuz', initrd: '/images/initrd.img', append: 'console=ttyS0 ip=dhcp,foo' },
  disks: [{ path: '/disks/data.qcow2', format: 'qcow2' }],
  nics: [{ tapName: 'pt3f2b8c1e9d0', mac: '0A:00:00:00:00:01' }],
};

/** Values following a flag, e.g. every '-device' argument. */
const after = (argv: string[], flag: string) => argv.flatMap((arg, n) => (arg === flag ? [argv[n + 1]] : []));

/** Splits a QEMU option list the way QemuOpts does: ',' separates, ',,' is a literal comma. */
function parseOptions(list: string): Array<[string, string]> {
  const parts: string[] = [];
  let current = '';
  for (let n = 0; n < list.length; n++) {
    if (list[n] === ',' && list[n + 1] === ',') {
      current += ',';
      n++;
    } else if (list[n] === ',') {
      parts.push(current);
      current = '';
    } else current += list[n];
  }
  parts.push(current);
  return parts.map((part) => {
    const eq = part.indexOf('=');
    return eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
  });
}

describe('qemuArgv', () => {
  it('pc: PCI virtio devices, daemonized with pidfile, QMP socket and serial file in the state directory', () => {
    const argv = qemuArgv(base, paths);
    expect(argv.slice(0, 4)).toEqual(['-nodefaults', '-no-user-config', '-display', 'none']);
    expect(after(argv, '-machine')).toEqual(['pc']);
    expect(after(argv, '-accel')).toEqual(['tcg']);
    expect(after(argv, '-cpu')).toEqual(['max']);
    expect(after(argv, '-smp')).toEqual(['2']);
    expect(after(argv, '-m')).toEqual(['512M']);
    expect(after(argv, '-uuid')).toEqual([UID]);
    expect(after(argv, '-kernel')).toEqual(['/images/vmlinuz']);
    expect(after(argv, '-initrd')).toEqual(['/images/initrd.img']);
    expect(after(argv, '-append')).toEqual(['console=ttyS0 ip=dhcp,foo']); // one argument, not an option list
    expect(after(argv, '-drive')).toEqual(['file=/disks/data.qcow2,format=qcow2,if=none,id=disk0']);
    expect(after(argv, '-netdev')).toEqual(['tap,id=net0,ifname=pt3f2b8c1e9d0,script=no,downscript=no']);
    expect(after(argv, '-device')).toEqual(['virtio-blk-pci,drive=disk0,id=disk0-dev', 'virtio-net-pci,netdev=net0,mac=0a:00:00:00:00:01,id=net0-dev']);
    expect(after(argv, '-chardev')).toEqual([
      `file,id=serial0,path=/var/lib/photon/vms/${UID}/console.log,append=on`,
      `socket,id=qmp,path=/var/lib/photon/vms/${UID}/qmp.sock,server=on,wait=off`,
    ]);
    expect(after(argv, '-serial')).toEqual(['chardev:serial0']);
    expect(after(argv, '-mon')).toEqual(['chardev=qmp,mode=control']);
    expect(argv).toContain('-daemonize');
    expect(after(argv, '-pidfile')).toEqual([`/var/lib/photon/vms/${UID}/qemu.pid`]);
    expect(argv).not.toContain('-no-reboot');
  });

  it('microvm: virtio-mmio devices; kvm uses -cpu host', () => {
    const argv = qemuArgv({ ...base, machine: 'microvm', accel: 'kvm', noReboot: true }, paths);
    expect(after(argv, '-machine')).toEqual(['microvm']);
    expect(after(argv, '-accel')).toEqual(['kvm']);
    expect(after(argv, '-cpu')).toEqual(['host']);
    expect(after(argv, '-device')).toEqual(['virtio-blk-device,drive=disk0,id=disk0-dev', 'virtio-net-device,netdev=net0,mac=0a:00:00:00:00:01,id=net0-dev']);
    expect(argv.join(' ')).not.toContain('-pci');
    expect(argv).toContain('-no-reboot');
  });

  it('microvm under TCG: PIT, PIC and RTC on and the timer calibration skipped, after the VM\'s own command line', () => {
    const argv = qemuArgv({ ...base, machine: 'microvm', accel: 'tcg', noShutdown: true }, paths);
    expect(after(argv, '-machine')).toEqual(['microvm,pit=on,pic=on,rtc=on']);
    expect(after(argv, '-append')[0]).toMatch(/ tsc=reliable no_timer_check lpj=4000000$/);
    expect(argv).toContain('-no-shutdown');
    // pc under TCG is untouched.
    expect(after(qemuArgv({ ...base, accel: 'tcg' }, paths), '-machine')).toEqual(['pc']);
  });

  it('a boot disk comes first with bootindex=0, data disks after it', () => {
    const argv = qemuArgv({ ...base, boot: { disk: { path: '/disks/root.raw' } } }, paths);
    expect(after(argv, '-kernel')).toEqual([]);
    expect(after(argv, '-drive')).toEqual(['file=/disks/root.raw,format=raw,if=none,id=disk0', 'file=/disks/data.qcow2,format=qcow2,if=none,id=disk1']);
    expect(after(argv, '-device').slice(0, 2)).toEqual(['virtio-blk-pci,drive=disk0,id=disk0-dev,bootindex=0', 'virtio-blk-pci,drive=disk1,id=disk1-dev']);
  });

  it('a disk path with commas cannot inject options: it stays one file= value', () => {
    const evil = '/disks/x,format=qcow2,file.driver=ssh,readonly=off,snapshot=on';
    const argv = qemuArgv({ ...base, disks: [{ path: evil, readOnly: true }] }, paths);
    const [drive] = after(argv, '-drive');
    const options = parseOptions(drive);
    expect(options).toEqual([
      ['file', evil],
      ['format', 'raw'],
      ['if', 'none'],
      ['id', 'disk0'],
      ['readonly', 'on'],
    ]);
  });

  it('a name with commas stays the guest name; a state root with commas stays one path', () => {
    const argv = qemuArgv({ ...base, name: 'a,process=evil,debug-threads=on' }, vmPaths('/srv/a,b', UID));
    expect(parseOptions(after(argv, '-name')[0])).toEqual([['guest', 'a,process=evil,debug-threads=on']]);
    const chardevs = after(argv, '-chardev').map(parseOptions);
    expect(chardevs[0]).toContainEqual(['path', `/srv/a,b/${UID}/console.log`]);
    expect(chardevs[1]).toEqual([['socket', ''], ['id', 'qmp'], ['path', `/srv/a,b/${UID}/qmp.sock`], ['server', 'on'], ['wait', 'off']]);
  });

  it('every argument is a separate vector element: spaces and quotes are not split or interpreted', () => {
    const argv = qemuArgv({ ...base, boot: { kernel: '/images/my kernel; rm -rf /', append: '"quoted" $HOME `x`' } }, paths);
    expect(after(argv, '-kernel')).toEqual(['/images/my kernel; rm -rf /']);
    expect(after(argv, '-append')).toEqual(['"quoted" $HOME `x`']);
  });

  it.each<[string, Partial<VmSpec>, RegExp]>([
    ['a tap name with a comma', { nics: [{ tapName: 'tap0,vhost=on', mac: '0a:00:00:00:00:01' }] }, /tapName/],
    ['a tap name over 15 characters', { nics: [{ tapName: 'a'.repeat(16), mac: '0a:00:00:00:00:01' }] }, /tapName/],
    ['a MAC with options after it', { nics: [{ tapName: 'tap0', mac: '0a:00:00:00:00:01,romfile=/x' }] }, /mac/],
    ['a multicast MAC', { nics: [{ tapName: 'tap0', mac: '01:00:00:00:00:01' }] }, /multicast/],
    ['an initrd with a comma (multiboot module separator)', { boot: { kernel: '/k', initrd: '/i,/etc/shadow' } }, /initrd/],
    ['a relative disk path', { disks: [{ path: 'data.img' }] }, /absolute/],
    ['a disk path with a newline', { disks: [{ path: '/a\nb' }] }, /control/],
    ['an unknown disk format', { disks: [{ path: '/a', format: 'vmdk' as 'raw' }] }, /format/],
    ['an unknown machine', { machine: 'q35' as 'pc' }, /machine/],
    ['an unknown accelerator', { accel: 'hvf' as 'tcg' }, /accel/],
    ['zero cores', { cpuCores: 0 }, /cpuCores/],
    ['memory not in MiB', { memoryBytes: 512 * 1024 * 1024 + 1 }, /memoryBytes/],
    ['both kernel and disk', { boot: { kernel: '/k', disk: { path: '/d' } } as unknown as VmSpec['boot'] }, /exactly one/],
    ['a uid with a slash', { uid: '../etc' }, /uid/],
  ])('refuses %s', (_what, patch, message) => {
    expect(() => qemuArgv({ ...base, ...patch }, paths)).toThrow(VmSpecError);
    expect(() => qemuArgv({ ...base, ...patch }, paths)).toThrow(message);
  });

  it('refuses a state root that would make the QMP socket path too long for a unix socket', () => {
    expect(() => vmPaths(`/${'x'.repeat(80)}`, UID)).toThrow(/107 bytes/);
    expect(() => vmPaths('relative', UID)).toThrow(/absolute/);
  });
});

describe('qemuArgv: RBD Volumes', () => {
  const ceph = { conf: '/etc/photon/ceph.conf', user: 'photon', keyFile: `/var/lib/photon/vms/${UID}/ceph.key` };
  const volumes = [
    { name: 'data', pool: 'photon-fast', image: 'vol-1b2c' },
    { name: 'logs-2024', pool: 'photon-slow', image: 'vol-9f8e' },
  ];
  const withVolumes: VmSpec = { ...base, volumes, ceph };

  it('one secret object with the key file, then a JSON rbd blockdev and a virtio-blk device per Volume, after the data disks', () => {
    const argv = qemuArgv(withVolumes, paths);
    expect(after(argv, '-object')).toEqual([`secret,id=ceph-key,file=/var/lib/photon/vms/${UID}/ceph.key,format=base64`]);
    expect(after(argv, '-blockdev').map((arg) => JSON.parse(arg))).toEqual([
      { driver: 'rbd', 'node-name': 'vol-data', pool: 'photon-fast', image: 'vol-1b2c', conf: '/etc/photon/ceph.conf', user: 'photon', 'key-secret': 'ceph-key', 'auth-client-required': ['cephx'] },
      { driver: 'rbd', 'node-name': 'vol-logs-2024', pool: 'photon-slow', image: 'vol-9f8e', conf: '/etc/photon/ceph.conf', user: 'photon', 'key-secret': 'ceph-key', 'auth-client-required': ['cephx'] },
    ]);
    expect(after(argv, '-device')).toEqual([
      'virtio-blk-pci,drive=disk0,id=disk0-dev',
      'virtio-blk-pci,drive=vol-data,id=vol-data-dev,serial=data',
      'virtio-blk-pci,drive=vol-logs-2024,id=vol-logs-2024-dev,serial=logs-2024',
      'virtio-net-pci,netdev=net0,mac=0a:00:00:00:00:01,id=net0-dev',
    ]);
    // The secret is defined before any blockdev refers to it; the key itself is never on the command line.
    expect(argv.indexOf('-object')).toBeLessThan(argv.indexOf('-blockdev'));
    expect(argv.indexOf('-blockdev')).toBeGreaterThan(argv.lastIndexOf('-drive'));
    expect(argv.join(' ')).not.toMatch(/AQ[A-Za-z0-9+/]{20,}/);
  });

  it('microvm: virtio-blk-device', () => {
    const argv = qemuArgv({ ...withVolumes, machine: 'microvm', accel: 'kvm' }, paths);
    expect(after(argv, '-device')).toContain('virtio-blk-device,drive=vol-data,id=vol-data-dev,serial=data');
    expect(after(argv, '-device').filter((device) => device.includes('vol-'))).toEqual([
      'virtio-blk-device,drive=vol-data,id=vol-data-dev,serial=data',
      'virtio-blk-device,drive=vol-logs-2024,id=vol-logs-2024-dev,serial=logs-2024',
    ]);
  });

  it('a key file path with commas stays one file= value', () => {
    const argv = qemuArgv({ ...withVolumes, ceph: { ...ceph, keyFile: '/keys/a,format=raw,file=/etc/shadow' } }, paths);
    expect(parseOptions(after(argv, '-object')[0])).toEqual([['secret', ''], ['id', 'ceph-key'], ['file', '/keys/a,format=raw,file=/etc/shadow'], ['format', 'base64']]);
  });

  it('no Volumes: no secret object, no blockdev, and ceph is not needed', () => {
    for (const spec of [base, { ...base, volumes: [] }, { ...base, volumes: [], ceph }]) {
      const argv = qemuArgv(spec, paths);
      expect(argv).not.toContain('-object');
      expect(argv).not.toContain('-blockdev');
    }
  });

  it('a 20-character name is the longest a virtio-blk serial holds', () => {
    const name = 'a'.repeat(19) + '1';
    expect(after(qemuArgv({ ...withVolumes, volumes: [{ name, pool: 'p', image: 'i' }] }, paths), '-device')).toContain(`virtio-blk-pci,drive=vol-${name},id=vol-${name}-dev,serial=${name}`);
  });

  it.each<[string, Partial<VmSpec>, RegExp]>([
    ['Volumes without ceph', { volumes, ceph: undefined }, /volumes need ceph/],
    ['a Volume name over 20 characters', { volumes: [{ name: 'a'.repeat(21), pool: 'p', image: 'i' }] }, /volume name must be 1-20/],
    ['an empty Volume name', { volumes: [{ name: '', pool: 'p', image: 'i' }] }, /volume name must be 1-20/],
    ['a Volume name with a comma', { volumes: [{ name: 'a,serial=x', pool: 'p', image: 'i' }] }, /volume name must be 1-20/],
    ['a Volume name with capitals', { volumes: [{ name: 'Data', pool: 'p', image: 'i' }] }, /volume name must be 1-20/],
    ['a Volume name ending in a dash', { volumes: [{ name: 'data-', pool: 'p', image: 'i' }] }, /volume name must be 1-20/],
    ['a pool with a space', { volumes: [{ name: 'data', pool: 'my pool', image: 'i' }] }, /volume data: pool and image must be Ceph names, not "my pool\/i"/],
    ['a pool with a slash', { volumes: [{ name: 'data', pool: 'a/b', image: 'i' }] }, /pool and image must be Ceph names/],
    ['an image with a slash', { volumes: [{ name: 'data', pool: 'p', image: '../i' }] }, /pool and image must be Ceph names/],
    ['an image with a space', { volumes: [{ name: 'data', pool: 'p', image: 'i j' }] }, /pool and image must be Ceph names/],
    ['an image naming a snapshot', { volumes: [{ name: 'data', pool: 'p', image: 'i@snap' }] }, /pool and image must be Ceph names/],
    ['a relative ceph.conf', { volumes, ceph: { conf: 'ceph.conf', user: 'photon', keyFile: '/k' } }, /ceph.conf "ceph.conf" must be an absolute path/],
    ['a ceph.conf with a comma', { volumes, ceph: { conf: '/a,b.conf', user: 'photon', keyFile: '/k' } }, /ceph.conf must not contain ','/],
    ['a relative key file', { volumes, ceph: { conf: '/c', user: 'photon', keyFile: 'ceph.key' } }, /ceph.keyFile "ceph.key" must be an absolute path/],
    ['a ceph user with a space', { volumes, ceph: { conf: '/c', user: 'client admin', keyFile: '/k' } }, /ceph.user must be a Ceph client name/],
  ])('refuses %s', (_what, patch, message) => {
    expect(() => qemuArgv({ ...withVolumes, ...patch }, paths)).toThrow(VmSpecError);
    expect(() => qemuArgv({ ...withVolumes, ...patch }, paths)).toThrow(message);
  });
});
