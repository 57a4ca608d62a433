// `photon cordon NODE` (cordon.ts).
import { runIfMain } from '../../lib/cli.ts';
import { cordonUsage, setUnschedulable } from './cordon.ts';

runIfMain(import.meta.url, 'photon cordon', cordonUsage('cordon'), (argv) => setUnschedulable('cordon', argv));
