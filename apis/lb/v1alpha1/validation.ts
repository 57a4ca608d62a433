// What makes a LoadBalancer spec wrong whatever else exists (the CRD schema checks each field alone; these
// rules span fields). Shared by admission (422 naming the field) and the controller (Stalled for objects
// stored before a rule existed). Hand-written, beside the generated types.
import type { LoadBalancerSpec } from './loadbalancer.ts';

export interface SpecProblem {
  field: string;
  value: unknown;
  message: string;
}

export function loadBalancerSpecProblems(spec: LoadBalancerSpec | undefined): SpecProblem[] {
  const problems: SpecProblem[] = [];
  if (!spec) return problems;
  // HTTP listeners take a TCP port on the VIP: one transport port may serve one listener.
  const ports = new Map<string, string>();
  (spec.listeners ?? []).forEach((listener, index) => {
    const protocol = listener.protocol ?? 'TCP';
    const transport = protocol === 'UDP' ? 'UDP' : 'TCP';
    const key = `${transport}/${listener.port}`;
    const holder = ports.get(key);
    if (holder !== undefined) problems.push({ field: `spec.listeners[${index}].port`, value: listener.port, message: `${transport} port ${listener.port} is already used by listener ${holder}` });
    else ports.set(key, listener.name);
    if (listener.rules?.length && protocol !== 'HTTP') problems.push({ field: `spec.listeners[${index}].rules`, value: listener.rules.length, message: `rules route HTTP requests: only a listener with protocol HTTP may have them (this one is ${protocol})` });
  });
  const check = spec.healthCheck;
  if (check?.timeoutSeconds !== undefined && check.intervalSeconds !== undefined && check.timeoutSeconds > check.intervalSeconds) {
    problems.push({ field: 'spec.healthCheck.timeoutSeconds', value: check.timeoutSeconds, message: `must not exceed intervalSeconds (${check.intervalSeconds}): a check would still be running when the next one starts` });
  }
  return problems;
}
