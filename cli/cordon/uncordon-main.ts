// `photon uncordon NODE` (cordon.ts).
import { runIfMain } from '../../lib/cli.ts';
import { cordonUsage, setUnschedulable } from './cordon.ts';

runIfMain(import.meta.url, 'photon uncordon', cordonUsage('uncordon'), (argv) => setUnschedulable('uncordon', argv));
