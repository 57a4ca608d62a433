// A LoadBalancer's status from what was programmed and what the health checks found, as plain data: one
// status.backends entry per backend and port (address, port, online/offline, since when), the listeners'
// states, the counts the printer columns show, and the conditions:
//   Ready     False NoBackends (nothing selected: the VIP rejects), NoHealthyBackends (every check fails),
//             CheckingBackends (no result yet); True otherwise
//   Degraded  True BackendsOffline while some (not all) backends fail their checks
import type { LoadBalancerBackendStatus, LoadBalancerStatusListener } from '../../apis/lb/v1alpha1/index.ts';
import type { ServiceHealth } from '../../agents/ovn-sb/index.ts';
import { fewNames } from '../../lib/few-names.ts';
import type { Backend } from './backends.ts';

/** One backend behind one listener port, with what the checks say. */
export interface CheckedBackend {
  backend: Backend;
  port: number;
  protocol: 'TCP' | 'UDP' | 'HTTP';
  health: ServiceHealth;
}

export interface ListenerTargets {
  name: string;
  protocol: 'TCP' | 'UDP' | 'HTTP';
  port: number;
  programmed: boolean;
  backends: CheckedBackend[];
}

const entryKey = (entry: { kind?: string; name: string; address: string; port?: number; protocol?: string }) => `${entry.kind}/${entry.name}/${entry.address}:${entry.port}/${entry.protocol}`;

/** status.backends: sorted, each with `since` carried over while its health is unchanged. */
export function backendStatuses(listeners: readonly ListenerTargets[], previous: readonly LoadBalancerBackendStatus[] | undefined, now: string): LoadBalancerBackendStatus[] {
  const before = new Map((previous ?? []).map((entry) => [entryKey(entry), entry]));
  const entries = new Map<string, LoadBalancerBackendStatus>();
  for (const listener of listeners) {
    for (const checked of listener.backends) {
      const entry: LoadBalancerBackendStatus = { name: checked.backend.name, kind: checked.backend.kind, address: checked.backend.address, port: checked.port, protocol: checked.protocol, health: checked.health, healthy: checked.health === 'online' };
      const key = entryKey(entry);
      const old = before.get(key);
      entries.set(key, { ...entry, since: old && old.health === entry.health && old.since ? old.since : now });
    }
  }
  // Field by field: a joined key would sort "web-2" before "web" ('-' collates before '/').
  return [...entries.values()].sort((a, b) => a.name.localeCompare(b.name) || (a.kind ?? '').localeCompare(b.kind ?? '') || (a.port ?? 0) - (b.port ?? 0) || (a.protocol ?? '').localeCompare(b.protocol ?? ''));
}

export function listenerStatuses(listeners: readonly ListenerTargets[]): LoadBalancerStatusListener[] {
  return listeners.map((listener) => ({
    name: listener.name,
    protocol: listener.protocol,
    port: listener.port,
    state: !listener.programmed
      ? 'Pending'
      : listener.backends.length === 0
        ? 'NoBackends'
        : listener.backends.some((checked) => checked.health === 'online')
          ? 'Active'
          : listener.backends.some((checked) => checked.health === 'offline')
            ? 'NoHealthyBackends'
            : 'Pending', // no check result yet
  }));
}

export interface HealthSummary {
  backendCount: number;
  healthyBackendCount: number;
  /** Ready's reason and message when the backends keep it False; undefined when they don't. */
  unready?: { reason: 'NoBackends' | 'NoHealthyBackends' | 'CheckingBackends'; message: string };
  degraded: { status: 'True' | 'False'; reason: string; message: string };
}

/** Counts (distinct backends; healthy = online on every port it serves) and what they mean for the conditions. */
export function summarize(entries: readonly LoadBalancerBackendStatus[]): HealthSummary {
  const byBackend = new Map<string, LoadBalancerBackendStatus[]>();
  for (const entry of entries) byBackend.set(`${entry.kind}/${entry.name}`, [...(byBackend.get(`${entry.kind}/${entry.name}`) ?? []), entry]);
  const healthy = [...byBackend.values()].filter((list) => list.every((entry) => entry.healthy)).length;
  const offline = entries.filter((entry) => entry.health === 'offline');
  const describe = (list: readonly LoadBalancerBackendStatus[]) => fewNames(list, 5, (entry) => `${entry.kind} ${entry.name} (${entry.address}:${entry.port})`);
  const summary: HealthSummary = {
    backendCount: byBackend.size,
    healthyBackendCount: healthy,
    degraded: offline.length > 0 && entries.some((entry) => entry.healthy)
      ? { status: 'True', reason: 'BackendsOffline', message: `failing health checks: ${describe(offline)}` }
      : { status: 'False', reason: 'NotDegraded', message: '' },
  };
  if (entries.length === 0) summary.unready = { reason: 'NoBackends', message: 'no backend is selected: the VIP rejects connections' };
  else if (!entries.some((entry) => entry.healthy)) {
    summary.unready = offline.length > 0
      ? { reason: 'NoHealthyBackends', message: `every backend fails its health checks: ${describe(offline)}` }
      : { reason: 'CheckingBackends', message: `waiting for the first health check results of ${describe(entries)}` };
  }
  return summary;
}
