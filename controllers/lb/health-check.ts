// A LoadBalancer's health-check settings with the CRD's defaults filled in.
import type { LoadBalancerHealthCheck } from '../../apis/lb/v1alpha1/index.ts';
import type { LoadBalancerObject } from './informers.ts';

/** Health-check timings with the CRD's defaults (a stored object always has them; unit tests may not). */
export function healthCheckOf(lb: LoadBalancerObject): Required<Pick<LoadBalancerHealthCheck, 'enabled' | 'intervalSeconds' | 'timeoutSeconds' | 'successThreshold' | 'failureThreshold'>> {
  const check = lb.spec.healthCheck ?? {};
  return { enabled: check.enabled ?? true, intervalSeconds: check.intervalSeconds ?? 5, timeoutSeconds: check.timeoutSeconds ?? 3, successThreshold: check.successThreshold ?? 1, failureThreshold: check.failureThreshold ?? 3 };
}
