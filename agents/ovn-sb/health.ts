// Backend health as OVN sees it: the Southbound database's Service_Monitor rows, which ovn-controller keeps
// `online`/`offline` for every (backend IP, port, protocol, logical port) that a load balancer's health check
// covers (ovn-northd creates the rows from Load_Balancer.health_check + ip_port_mappings). This is the only
// thing PhotonCloud reads from the Southbound database, read-only, through one monitored connection that
// replicates just these columns.
//
// Like the Northbound driver it connects in the background and keeps retrying, so the load-balancer
// controller runs (and says why health is unknown) while the Southbound database is unreachable.
import { OvsdbClient, type OvsdbTlsFiles, type Row } from '../ovsdb/index.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';

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
  private client?: OvsdbClient<SouthboundTables>;
  /** serviceKey → status, kept from the replica's updates (a lookup per backend, not a table scan). */
  private readonly states = new Map<string, ServiceHealth>();
  private readonly listeners = new Set<(service: MonitoredService) => void>();
  private lastError = 'not connected yet';
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly stopping = new AbortController();

  constructor(
    readonly endpoint: string,
    private readonly log: Logger,
    private readonly retryMs = 2000,
    private readonly tls?: OvsdbTlsFiles,
  ) {}

  start(): void {
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    try {
      const client = await OvsdbClient.connect<SouthboundTables>({
        endpoint: this.endpoint,
        ...(this.tls ? { tls: this.tls } : {}),
        database: SOUTHBOUND_DATABASE,
        monitor: { Service_Monitor: ['ip', 'port', 'protocol', 'logical_port', 'status'] },
        logger: this.log,
        connectTimeoutMs: 5000,
        signal: this.stopping.signal,
      });
      if (this.stopped) return void (await client.close());
      client.onStateChange((state) => {
        if (state === 'disconnected') this.lastError = 'the connection was lost; reconnecting';
      });
      client.onUpdate((_table, _uuid, oldRow, newRow) => {
        if (oldRow) this.forget(oldRow as ServiceMonitorRow, newRow as ServiceMonitorRow | undefined);
        if (newRow) this.record(newRow as ServiceMonitorRow);
      });
      for (const row of client.rows('Service_Monitor').values()) this.record(row);
      this.client = client;
      this.log.info('connected to the OVN southbound database', { endpoint: this.endpoint });
    } catch (error) {
      if (this.stopped) return;
      const message = errorMessage(error);
      if (message !== this.lastError) this.log.warn('cannot reach the OVN southbound database; retrying', { endpoint: this.endpoint, error: message });
      this.lastError = message;
      this.timer = setTimeout(() => void this.attempt(), this.retryMs);
    }
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
    return this.client?.connected ? undefined : `cannot reach the OVN southbound database at ${this.endpoint}: ${this.lastError}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.client?.close();
    this.client = undefined;
  }
}
