// The quota ledger: charges a namespace's ResourceQuotas for a write before it is stored, and recounts their
// usage from what exists. Charging follows Kubernetes' quota admission: the new usage is written to the
// quota's status with an optimistic-concurrency update, so every admitted write is on record before the next
// is checked, and concurrent creates against a count of 10 admit exactly 10. Charges and recounts of one
// namespace take turns through an in-process lock (no conflict storms among this server's requests; the
// resourceVersion precondition still guards against other API servers).
//
// A charge is made before its object is stored, so the object may still fail to be written (a name taken, a
// conflict): the recount corrects that, but lowers a usage only once no charge has been made for that quota
// in the last few seconds, so it never takes back the charge of an object that is about to appear.
import type { KubeObject } from '../../apis/meta/types.ts';
import { ApiError, isGoneOrChanged } from '../errors.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import type { ObjectStore } from '../registry/object-store.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import { listPrefix, type ResourceInfo } from '../registry/resource.ts';
import type { WatchCache } from '../watch/cache.ts';
import { formatQuantity, parseQuantity } from './quantity.ts';
import { resourcesFor, usageOf } from './usage.ts';

/** How long a charge protects a usage from being lowered by a recount. */
export const CHARGE_GRACE_MS = 5_000;
const MAX_ATTEMPTS = 10;

interface QuotaSpec {
  hard?: Record<string, string | number>;
}
interface QuotaStatus {
  hard?: Record<string, string | number>;
  used?: Record<string, string | number>;
}

const hardOf = (quota: KubeObject) => ((quota.spec as QuotaSpec | undefined)?.hard ?? {}) as Record<string, string | number>;
const usedOf = (quota: KubeObject) => ((quota.status as QuotaStatus | undefined)?.used ?? {}) as Record<string, string | number>;

export class QuotaLedger {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly lastCharge = new Map<string, number>();

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly cache: WatchCache,
    /** Late-bound: the object store is built with the admission chain that holds this ledger. */
    private readonly objects: () => ObjectStore,
  ) {}

  private quotaResource(): ResourceInfo {
    return this.registry.get('', 'v1', 'resourcequotas')!;
  }

  /** Runs task after every earlier task of the namespace has finished. */
  private async exclusive<T>(namespace: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(namespace) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(namespace, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(namespace) === settled) this.locks.delete(namespace);
    }
  }

  /** What the namespace's objects use of name now, from the watch cache. */
  count(namespace: string, name: string): number {
    let total = 0;
    for (const target of resourcesFor(name) ?? []) {
      const resource = this.registry.byGroupResource(target.group, target.plural);
      if (!resource?.namespaced) continue;
      for (const { object } of this.cache.list(listPrefix(resource, namespace))) total += usageOf(resource, object)[name] ?? 0;
    }
    return total;
  }

  /**
   * Checks the increase in usage a write brings against every quota of its namespace and, unless dryRun,
   * records it. Throws 403 `exceeded quota` when one would go over.
   */
  async charge(namespace: string, increase: Record<string, number>, dryRun: boolean): Promise<void> {
    const names = Object.keys(increase).filter((name) => increase[name] > 0);
    if (names.length === 0) return;
    await this.exclusive(namespace, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.chargeOnce(namespace, increase, names, dryRun);
        } catch (error) {
          if (!isGoneOrChanged(error) || attempt >= MAX_ATTEMPTS) throw error;
        }
      }
    });
  }

  private async chargeOnce(namespace: string, increase: Record<string, number>, names: string[], dryRun: boolean): Promise<void> {
    const resource = this.quotaResource();
    const updates: KubeObject[] = [];
    // Which quotas exist, from the cache; their usage from storage: the last charge must be seen.
    for (const { object: cached } of this.cache.list(listPrefix(resource, namespace))) {
      let quota: KubeObject;
      try {
        quota = await this.objects().get(resource, namespace, cached.metadata.name!);
      } catch (error) {
        if (error instanceof ApiError && error.code === 404) continue;
        throw error;
      }
      const hard = hardOf(quota);
      const used = { ...usedOf(quota) };
      let changed = false;
      for (const name of names) {
        if (hard[name] === undefined) continue;
        const limit = parseQuantity(hard[name]) ?? 0;
        const current = parseQuantity(used[name]) ?? this.count(namespace, name);
        if (current + increase[name] > limit) {
          throw new ApiError(
            403,
            'Forbidden',
            `exceeded quota: ${quota.metadata.name}, requested: ${name}=${formatQuantity(increase[name], String(hard[name]))}, used: ${name}=${formatQuantity(current, String(hard[name]))}, limited: ${name}=${hard[name]}`,
          );
        }
        used[name] = formatQuantity(current + increase[name], String(hard[name]));
        changed = true;
      }
      if (changed) updates.push({ ...quota, status: { hard, used } });
    }
    if (dryRun) return;
    for (const update of updates) {
      await this.objects().update(resource, namespace, update.metadata.name!, update, defaultWriteOptions(), 'status');
      this.lastCharge.set(`${namespace}/${update.metadata.name}`, Date.now());
    }
  }

  /**
   * Brings one quota's status in line with what exists: status.hard = spec.hard, and used recounted (raised at
   * once; lowered only outside the grace period of a charge). Returns whether it wrote.
   */
  async recount(quota: KubeObject, now = Date.now()): Promise<boolean> {
    const namespace = quota.metadata.namespace!;
    return this.exclusive(namespace, async () => {
      const resource = this.quotaResource();
      let current: KubeObject;
      try {
        current = await this.objects().get(resource, namespace, quota.metadata.name!);
      } catch (error) {
        if (error instanceof ApiError && error.code === 404) return false;
        throw error;
      }
      const hard = hardOf(current);
      const previous = usedOf(current);
      const recent = now - (this.lastCharge.get(`${namespace}/${current.metadata.name}`) ?? 0) < CHARGE_GRACE_MS;
      const used: Record<string, string> = {};
      for (const name of Object.keys(hard)) {
        const counted = this.count(namespace, name);
        const recorded = parseQuantity(previous[name]);
        const value = recorded !== undefined && counted < recorded && recent ? recorded : counted;
        used[name] = formatQuantity(value, String(hard[name]));
      }
      const status = { hard, used };
      if (JSON.stringify(status) === JSON.stringify(current.status ?? {})) return false;
      try {
        await this.objects().update(resource, namespace, current.metadata.name!, { ...current, status }, defaultWriteOptions(), 'status');
        return true;
      } catch (error) {
        if (isGoneOrChanged(error)) return false; // changed meanwhile: the next pass recounts
        throw error;
      }
    });
  }
}
