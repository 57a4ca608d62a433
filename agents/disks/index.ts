// The disks driver: cached, verified images and per-VM qcow2 disks through qemu-img (driver.ts), the pure
// plan from observed to desired disks (plan.ts), the bounded image fetch (fetch.ts) and typed errors (errors.ts).
export * from './errors.ts';
export * from './plan.ts';
export * from './fetch.ts';
export * from './qemu-img.ts';
export * from './driver.ts';
export * from './local-volumes.ts';
