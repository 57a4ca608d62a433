// Object storage on Ceph RGW: the admin REST API client (admin.ts), the driver behind ObjectStorageDriver
// (driver.ts) and its typed errors (errors.ts).
export * from './admin.ts';
export * from './driver.ts';
export * from './errors.ts';
export * from './flags.ts';
