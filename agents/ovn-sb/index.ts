// The OVN Southbound database, read-only: backend health from Service_Monitor (health.ts).
export { ServiceMonitorReader, serviceKey, SOUTHBOUND_DATABASE, type HealthSource, type MonitoredService, type ServiceHealth, type ServiceMonitorRow } from './health.ts';
