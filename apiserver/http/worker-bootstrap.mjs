// Entry point of the API server's worker threads: a worker starts without the parent's TypeScript loader,
// so this plain module registers tsx and then loads the TypeScript module named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
