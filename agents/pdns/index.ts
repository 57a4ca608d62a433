export * from './api.ts';
export * from './driver.ts';
export * from './rrsets.ts';
