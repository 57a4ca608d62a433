export * from './local.ts';
export * from './rbd.ts';
