// Admission for LoadBalancers: specs wrong across fields (two listeners on one port, HTTP rules on a TCP
// listener, a health-check timeout longer than its interval) are refused with 422 naming the field. The rules
// live once in apis/lb/v1alpha1/validation.ts, which the controller applies too. References (Subnet, Ports,
// VMs) are not checked here: they may come later, and the controller says what it waits for.
import { loadBalancerSpecProblems } from '../../apis/lb/v1alpha1/validation.ts';
import type { LoadBalancerSpec } from '../../apis/lb/v1alpha1/loadbalancer.ts';
import type { AdmissionPlugin } from './chain.ts';

export const loadBalancerValidation: AdmissionPlugin = {
  name: 'LoadBalancerValidation',
  operations: ['CREATE', 'UPDATE'],
  kinds: [{ group: 'lb.photoncloud.io', kind: 'LoadBalancer' }],
  async admit({ object }) {
    const spec = (object as unknown as { spec?: LoadBalancerSpec }).spec;
    return loadBalancerSpecProblems(spec).map((problem) => ({ field: problem.field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(problem.value)}: ${problem.message}` }));
  },
};
