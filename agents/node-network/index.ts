// The node network driver: persistent tap devices on br-int bound to OVN logical switch ports (driver.ts),
// from desired state as plain data (desired-state.ts) through a pure diff (diff.ts).
export * from './names.ts';
export * from './desired-state.ts';
export * from './diff.ts';
export * from './driver.ts';
