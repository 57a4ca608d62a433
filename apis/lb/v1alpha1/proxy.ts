// What a LoadBalancer's HAProxy is told to serve (status.proxy.configuration): written by the
// loadbalancer-controller, which resolves rules to pools of addresses, and read by the node agent running the
// proxy, which renders it (agents/haproxy). Hand-written, beside the generated types; the hash lets the agent
// say which configuration it runs.
import { createHash } from 'node:crypto';
import type { LoadBalancerProxy } from './loadbalancer.ts';

export interface ProxyConfiguration {
  listeners: Array<{ name: string; port: number; rules: Array<{ host?: string; pathPrefix?: string; pool: string }>; defaultPool?: string }>;
  pools: Array<{
    name: string;
    servers: Array<{ name: string; address: string; port: number }>;
    healthCheck?: { path: string; intervalSeconds: number; timeoutSeconds: number; rise: number; fall: number };
  }>;
}

/** Stable JSON (keys sorted) → SHA-256 hex: equal configurations hash alike whatever the key order. */
export function proxyConfigurationHash(configuration: ProxyConfiguration): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]));
    return value;
  };
  return createHash('sha256').update(JSON.stringify(canonical(configuration))).digest('hex');
}

/**
 * The fields of status.proxy the node agent running the proxy writes (its report); every other field is the
 * controller's. NodeRestriction lets a node change only these, and the controller keeps them while the proxy
 * stays on the same node.
 */
export const PROXY_REPORT_FIELDS = ['appliedHash', 'ready', 'message', 'servers'] as const;
export type ProxyReport = Pick<LoadBalancerProxy, (typeof PROXY_REPORT_FIELDS)[number]>;

/** The agent's report within a status.proxy. */
export function proxyReportOf(proxy: LoadBalancerProxy | undefined): ProxyReport {
  return Object.fromEntries(PROXY_REPORT_FIELDS.filter((field) => proxy?.[field] !== undefined).map((field) => [field, proxy![field]])) as ProxyReport;
}
