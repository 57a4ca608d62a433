// The QEMU hypervisor driver: argument vectors as plain data (argv.ts), a QMP client (qmp.ts), and
// QemuDriver (driver.ts), which runs daemonized QEMUs from per-VM state directories and adopts them after a restart.
export * from './argv.ts';
export * from './qmp.ts';
export * from './driver.ts';
export * from './volumes.ts';
