// Keeps the cluster's RBAC defaults in place and aggregated ClusterRoles filled, as kube-apiserver's RBAC
// bootstrap and kube-controller-manager's clusterrole-aggregation controller do, but inside the API server so
// authorization is complete with the API server alone.
// - Bootstrap (every start): each default role or binding is created when missing; one that still carries
//   `rbac.authorization.kubernetes.io/autoupdate: "true"` gets missing rules/subjects added (what an
//   operator added is kept); with the annotation set to "false" it is left exactly as the operator made it.
// - Aggregation (on every ClusterRole change): a role with an aggregationRule gets the union of the rules of
//   the roles its selectors match. Level-based: the rules are recomputed from what exists each time.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { Logger } from '../../lib/logging.ts';
import { errorMessage } from '../../lib/logging.ts';
import { ApiError, isGoneOrChanged } from '../errors.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import { RBAC_GROUP } from '../registry/builtins/rbac.ts';
import type { ObjectStore } from '../registry/object-store.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import type { WatchCache, WatchRegistration } from '../watch/cache.ts';
import { AUTOUPDATE_ANNOTATION, bootstrapPolicy } from './bootstrap-policy.ts';
import type { PolicyRule } from './types.ts';

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };

export function selectorMatches(selector: Selector, labels: Record<string, string> = {}): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    if (operator === 'In' && !(has && values.includes(labels[key]))) return false;
    if (operator === 'NotIn' && has && values.includes(labels[key])) return false;
    if (operator === 'Exists' && !has) return false;
    if (operator === 'DoesNotExist' && has) return false;
  }
  // An empty selector matches nothing here (Kubernetes: an aggregation selector must select something).
  return Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions?.length ?? 0) > 0;
}

const ruleKey = (rule: PolicyRule) => JSON.stringify([rule.verbs, rule.apiGroups ?? null, rule.resources ?? null, rule.resourceNames ?? null, rule.nonResourceURLs ?? null]);

function union(...lists: PolicyRule[][]): PolicyRule[] {
  const seen = new Set<string>();
  const result: PolicyRule[] = [];
  for (const rule of lists.flat()) {
    const key = ruleKey(rule);
    if (!seen.has(key)) {
      seen.add(key);
      result.push(rule);
    }
  }
  return result;
}

/** The rules an aggregated role should hold, from every other ClusterRole its selectors match, in name order. */
export function aggregatedRules(role: KubeObject, all: readonly KubeObject[]): PolicyRule[] {
  const selectors = ((role.aggregationRule as { clusterRoleSelectors?: Selector[] } | undefined)?.clusterRoleSelectors ?? []) as Selector[];
  const sources = all
    .filter((candidate) => candidate.metadata.name !== role.metadata.name && selectors.some((selector) => selectorMatches(selector, candidate.metadata.labels)))
    .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
  return union(...sources.map((source) => (source.rules as PolicyRule[] | undefined) ?? []));
}

export class PolicyLoop {
  private registration?: WatchRegistration;
  private pending?: Promise<void>;
  private again = false;

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly objects: ObjectStore,
    private readonly cache: WatchCache,
    private readonly log: Logger,
  ) {}

  private resource(plural: string): ResourceInfo {
    return this.registry.get(RBAC_GROUP, 'v1', plural)!;
  }

  /** Creates or tops up the defaults. Call after the CRDs are registered (the roles list their kinds). */
  async bootstrap(): Promise<void> {
    for (const wanted of bootstrapPolicy(this.registry.all())) {
      const resource = this.resource(wanted.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings');
      const name = wanted.metadata.name!;
      let existing: KubeObject | undefined;
      try {
        existing = await this.objects.get(resource, undefined, name);
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 404)) throw error;
      }
      if (!existing) {
        await this.objects.create(resource, undefined, wanted, defaultWriteOptions()).catch((error) => {
          if (!(error instanceof ApiError && error.reason === 'AlreadyExists')) throw error;
        });
        continue;
      }
      if (existing.metadata.annotations?.[AUTOUPDATE_ANNOTATION] === 'false') continue;
      const next = structuredClone(existing);
      if (wanted.kind === 'ClusterRole') {
        if (!wanted.aggregationRule) next.rules = union((existing.rules as PolicyRule[]) ?? [], (wanted.rules as PolicyRule[]) ?? []);
        if (wanted.aggregationRule) next.aggregationRule = wanted.aggregationRule;
        next.metadata.labels = { ...wanted.metadata.labels, ...existing.metadata.labels };
      } else {
        const subjects = (existing.subjects as Array<Record<string, string>> | undefined) ?? [];
        const missing = (wanted.subjects as Array<Record<string, string>>).filter((subject) => !subjects.some((candidate) => candidate.kind === subject.kind && candidate.name === subject.name));
        next.subjects = [...subjects, ...missing];
      }
      if (JSON.stringify(next) !== JSON.stringify(existing)) await this.objects.update(resource, undefined, name, next, defaultWriteOptions());
    }
  }

  /** Aggregates now and after every ClusterRole change until stop(). */
  start(): void {
    const { registration } = this.cache.watch(
      { keyPrefix: this.resource('clusterroles').storagePrefix, onEvent: () => this.schedule(), onTerminate: () => this.schedule() },
      undefined,
    );
    this.registration = registration;
    this.schedule();
  }

  stop(): void {
    this.registration?.cancel();
    this.registration = undefined;
  }

  /** Runs one aggregation pass at a time; changes during a pass trigger exactly one more. */
  private schedule(): void {
    if (this.pending) {
      this.again = true;
      return;
    }
    this.pending = this.aggregate()
      .then(() => undefined)
      .catch((error) => void this.log.warn('clusterrole aggregation failed; retrying on the next change', { error: errorMessage(error) }))
      .finally(() => {
        this.pending = undefined;
        if (this.again && this.registration) {
          this.again = false;
          this.schedule();
        }
      });
  }

  /**
   * Writes the aggregated rules of every aggregating ClusterRole whose rules differ. Returns the highest
   * revision it wrote (0: nothing changed), so a caller can wait for the cache to see its own writes.
   */
  async aggregate(): Promise<number> {
    const resource = this.resource('clusterroles');
    const all = this.cache.list(resource.storagePrefix).map((entry) => entry.object);
    let written = 0;
    for (const role of all) {
      if (!role.aggregationRule) continue;
      const rules = aggregatedRules(role, all);
      if (JSON.stringify(rules) === JSON.stringify(role.rules ?? [])) continue;
      try {
        const updated = await this.objects.update(resource, undefined, role.metadata.name!, { ...role, rules }, defaultWriteOptions());
        written = Math.max(written, Number(updated.metadata.resourceVersion));
      } catch (error) {
        // Changed or deleted meanwhile: that change is an event, which schedules another pass.
        if (!isGoneOrChanged(error)) throw error;
      }
    }
    return written;
  }

  /**
   * Aggregates until nothing changes (roles aggregating aggregated roles take a pass per level), so the server
   * starts serving with its default roles complete and its storage quiet.
   */
  async settle(maxPasses = 10): Promise<void> {
    for (let pass = 0; pass < maxPasses; pass++) {
      const written = await this.aggregate();
      if (written === 0) return;
      await this.cache.waitForRevision(written, 10_000);
    }
    this.log.warn('clusterrole aggregation did not settle at start-up; it continues in the background', { passes: maxPasses });
  }

  /** Resolves when no aggregation pass is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending) await this.pending;
  }
}
