// The API server's own control loops, all driven by its watch cache: CustomResourceDefinitions, namespace
// lifecycle, event expiry and following storage compaction. Start order matters: CRDs are registered
// before anything else looks at the registry.
import type { Logger } from '../lib/logging.ts';
import { CrdController } from './crds/controller.ts';
import { installCrds, readCrdFiles, waitForCrds } from './crds/install.ts';
import { PolicyLoop } from './authz/policy-loop.ts';
import { ApiError } from './errors.ts';
import type { QuotaLedger } from './quota/ledger.ts';
import { QuotaStatusLoop } from './quota/status-loop.ts';
import { Compactor } from './housekeeping/compactor.ts';
import { EventExpiry } from './housekeeping/event-expiry.ts';
import type { NamespaceLifecycle } from './housekeeping/namespace-lifecycle.ts';
import { defaultWriteOptions } from './registry/admit.ts';
import { SYSTEM_NAMESPACES } from './registry/builtins/namespaces.ts';
import type { ObjectStore } from './registry/object-store.ts';
import type { ResourceRegistry } from './registry/registry.ts';
import type { Store } from './storage/types.ts';
import type { WatchCache } from './watch/cache.ts';

export interface ControlLoopOptions {
  crdsDir: string;
  eventTtlMs: number;
  compactionPollMs: number;
  /** 0 disables compaction by this server (another server, or etcd itself, may do it). */
  compactionIntervalMs: number;
}

export interface ControlLoops {
  stop(): void;
}

async function ensureSystemNamespaces(objects: ObjectStore, registry: ResourceRegistry): Promise<void> {
  const resource = registry.get('', 'v1', 'namespaces')!;
  for (const name of SYSTEM_NAMESPACES) {
    try {
      await objects.create(resource, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, defaultWriteOptions());
    } catch (error) {
      if (!(error instanceof ApiError && error.reason === 'AlreadyExists')) throw error;
    }
  }
}

export async function startControlLoops(
  deps: { registry: ResourceRegistry; objects: ObjectStore; store: Store; cache: WatchCache; lifecycle: NamespaceLifecycle; quota: QuotaLedger; log: Logger },
  options: ControlLoopOptions,
): Promise<ControlLoops> {
  const { registry, objects, store, cache, lifecycle, quota, log } = deps;
  const crdResource = registry.get('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  const crds = new CrdController(crdResource, registry, objects, cache, log.child({ component: 'crd-controller' }));
  const eventExpiry = new EventExpiry(registry, objects, cache, options.eventTtlMs, Math.min(60_000, options.eventTtlMs), log.child({ component: 'event-expiry' }));
  // Compaction of storage history shows up as 410 Expired for watchers behind it.
  const compactionPoll = setInterval(() => {
    store.compactedRevision().then((revision) => cache.compactedTo(revision), () => undefined);
  }, options.compactionPollMs);
  const compactor = options.compactionIntervalMs > 0 ? new Compactor(store, cache, options.compactionIntervalMs, log.child({ component: 'compactor' })) : undefined;
  const policy = new PolicyLoop(registry, objects, cache, log.child({ component: 'rbac-policy' }));
  const quotaStatus = new QuotaStatusLoop(registry, cache, quota, log.child({ component: 'quota' }));
  const stop = () => {
    policy.stop();
    quotaStatus.stop();
    clearInterval(compactionPoll);
    compactor?.stop();
    crds.stop();
    lifecycle.stop();
    eventExpiry.stop();
  };
  try {
    crds.start();
    await ensureSystemNamespaces(objects, registry);
    const manifests = readCrdFiles(options.crdsDir);
    await installCrds(manifests, crdResource, objects, log);
    await waitForCrds(registry, manifests);
    // After the CRDs: the default roles list every PhotonCloud kind.
    await policy.bootstrap();
    await policy.settle();
    policy.start();
  } catch (error) {
    stop();
    throw error;
  }
  lifecycle.start();
  eventExpiry.start();
  quotaStatus.start();
  compactor?.start();
  return { stop };
}
