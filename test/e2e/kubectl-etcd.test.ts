import { describeKubectlE2E } from './kubectl-suite.ts';

describeKubectlE2E('etcd');
