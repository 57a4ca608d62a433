// Backend health as OVN sees it: the Southbound database's Service_Monitor rows, which ovn-controller keeps
// `online`/`offline` for every (backend IP, port, protocol, logical port) that a load balancer's health check
// covers (ovn-northd creates the rows from Load_Balancer.health_check + ip_port_mappings). This is the only
// thing PhotonCloud reads from the Southbound database, read-only, through one monitored connection that
// replicates just these columns.
//
// Like the Northbound driver it connects in the background and keeps retrying, so the load-balancer
// controller runs (and says why health is unknown) while the Southbound database is unreachable.
import { OvsdbClient, type OvsdbTlsFiles, type Row } from '../ovsdb/index.ts';
import type { Logger } from '../../lib/logging.ts';
import { BackgroundConnection } from '../ovsdb/background.ts';

export const SOUTHBOUND_DATABASE = 'OVN_Southbound';

export interface ServiceMonitorRow extends Row {
  ip: string;
  port: number;
  protocol?: string;
  logical_port: string;
  status?: 'online' | 'offline' | 'error';
}

interface SouthboundTables {
  [table: string]: Row;
  Service_Monitor: ServiceMonitorRow;
}

/** One monitored backend: what a Service_Monitor row is keyed by. */
export interface MonitoredService {
  ip: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** The backend's logical switch port (as in ip_port_mappings). */
  logicalPort: string;
}

export type ServiceHealth = 'online' | 'offline' | 'unknown';

/** What the load-balancer controller asks of the Southbound database. */
export interface HealthSource {
  /** Why health cannot be read right now, or undefined while connected. */
  readonly unavailableReason: string | undefined;
  /** The backend's state: `unknown` while OVN has no result (no row yet, or a row without status). */
  health(service: MonitoredService): ServiceHealth;
  /** Calls listener with every backend whose state changed (or whose row came or went); returns an unsubscribe. */
  onChange(listener: (service: MonitoredService) => void): () => void;
}

export const serviceKey = (service: MonitoredService): string => `${service.ip}:${service.port}/${service.protocol}@${service.logicalPort}`;

const serviceOf = (row: ServiceMonitorRow): MonitoredService => ({ ip: row.ip, port: row.port, protocol: row.protocol === 'udp' ? 'udp' : 'tcp', logicalPort: row.logical_port });

export class ServiceMonitorReader implements HealthSource {
  private readonly connection: BackgroundConnection<SouthboundTables>;
  /** serviceKey → status, kept from the replica's updates (a lookup per backend, not a table scan). */
  private readonly states = new Map<string, ServiceHealth>();
  private readonly listeners = new Set<(service: MonitoredService) => void>();

  constructor(endpoint: string, log: Logger, retryMs = 2000, tls?: OvsdbTlsFiles) {
    this.connection = new BackgroundConnection<SouthboundTables>({
      what: 'the OVN southbound database',
      endpoint,
      retryMs,
      log,
      connect: (signal) =>
        OvsdbClient.connect<SouthboundTables>({
          endpoint,
          ...(tls ? { tls } : {}),
          database: SOUTHBOUND_DATABASE,
          monitor: { Service_Monitor: ['ip', 'port', 'protocol', 'logical_port', 'status'] },
          logger: log,
          connectTimeoutMs: 5000,
          signal,
        }),
      onConnected: (client) => {
        // Rows coming and going after a reconnect arrive as updates too (the client diffs its fresh snapshot).
        client.onUpdate((_table, _uuid, oldRow, newRow) => {
          if (oldRow) this.forget(oldRow as ServiceMonitorRow, newRow as ServiceMonitorRow | undefined);
          if (newRow) this.record(newRow as ServiceMonitorRow);
        });
        for (const row of client.rows('Service_Monitor').values()) this.record(row);
      },
    });
  }

  start(): void {
    this.connection.start();
  }

  private record(row: ServiceMonitorRow): void {
    const service = serviceOf(row);
    const key = serviceKey(service);
    const state: ServiceHealth = row.status === 'online' ? 'online' : row.status === 'offline' || row.status === 'error' ? 'offline' : 'unknown';
    if (this.states.get(key) === state) return;
    this.states.set(key, state);
    this.emit(service);
  }

  private forget(oldRow: ServiceMonitorRow, newRow: ServiceMonitorRow | undefined): void {
    const service = serviceOf(oldRow);
    if (newRow && serviceKey(serviceOf(newRow)) === serviceKey(service)) return;
    if (this.states.delete(serviceKey(service))) this.emit(service);
  }

  private emit(service: MonitoredService): void {
    for (const listener of this.listeners) listener(service);
  }

  health(service: MonitoredService): ServiceHealth {
    return this.states.get(serviceKey(service)) ?? 'unknown';
  }

  onChange(listener: (service: MonitoredService) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get unavailableReason(): string | undefined {
    return this.connection.unavailableReason;
  }

  stop(): Promise<void> {
    return this.connection.stop();
  }
}
