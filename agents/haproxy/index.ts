// The layer-7 load-balancer driver: an HAProxy per LoadBalancer in its own network namespace (driver.ts),
// configured from plain data (config.ts).
export { HaproxyDriver, ProxyDriverError, ProxyConfigRejectedError, proxyName, LB_UID_LABEL, type HaproxyDriverOptions, type ProxyAttachment, type ProxyDriver, type ProxyServerHealth } from './driver.ts';
export { renderConfig, ProxyConfigError, type ProxyConfiguration } from './config.ts';
