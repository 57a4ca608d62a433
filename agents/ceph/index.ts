export * from './client.ts';
export * from './local.ts';
export * from './rbd.ts';
