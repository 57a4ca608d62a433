// The OVN Northbound driver: controllers describe the rows each object should own (desired-state.ts) and
// the driver (driver.ts) diffs them against its replica and applies them in one transaction. Below it: an
// OvsdbClient on OVN_Northbound (connect.ts), typed rows (schema.ts), ownership labels (ownership.ts) and
// concurrency-safe mutation builders (mutations.ts).
export * from './connect.ts';
export * from './desired-state.ts';
export * from './diff.ts';
export * from './driver.ts';
export * from './schema.ts';
export * from './ownership.ts';
export * from './mutations.ts';
