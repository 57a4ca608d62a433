// Connecting to OVN_Northbound with every table PhotonCloud manages replicated (all columns).
import { OvsdbClient, type OvsdbLogger, type MonitorSpec, type OvsdbTlsFiles } from '../ovsdb/index.ts';
import { NORTHBOUND_DATABASE, NORTHBOUND_TABLES, type NorthboundTables } from './schema.ts';

export type NorthboundClient = OvsdbClient<NorthboundTables>;

export interface NorthboundOptions {
  /** 'unix:/path/ovnnb_db.sock', 'tcp:127.0.0.1:6641' or 'ssl:…' (several comma-separated for a clustered NB). */
  endpoint: string;
  /** Credentials for ssl: endpoints. */
  tls?: OvsdbTlsFiles;
  logger?: OvsdbLogger;
  connectTimeoutMs?: number;
  maxBackoffMs?: number;
  probeIntervalMs?: number;
  /** Aborting gives up a connect still retrying (see OvsdbClientOptions.signal). */
  signal?: AbortSignal;
}

export function connectNorthbound(options: NorthboundOptions): Promise<NorthboundClient> {
  const monitor: MonitorSpec<NorthboundTables> = {};
  for (const table of NORTHBOUND_TABLES) monitor[table] = 'all';
  return OvsdbClient.connect<NorthboundTables>({
    endpoint: options.endpoint,
    ...(options.tls ? { tls: options.tls } : {}),
    database: NORTHBOUND_DATABASE,
    monitor,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
    ...(options.probeIntervalMs !== undefined ? { probeIntervalMs: options.probeIntervalMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
