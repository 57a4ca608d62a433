// Prometheus metrics of the controller runtime, registered on a Registry the caller owns (never prom-client's
// global one, so several managers or tests can live in one process). Names follow client-go's workqueue and
// controller-runtime's metrics, prefixed `photon_`:
//   photon_workqueue_depth{name}                       gauge
//   photon_workqueue_adds_total{name}                  counter
//   photon_workqueue_retries_total{name}               counter
//   photon_workqueue_queue_duration_seconds{name}      histogram (ready → picked by a worker)
//   photon_workqueue_work_duration_seconds{name}       histogram (picked → done)
//   photon_controller_reconcile_total{controller,result} counter (result: success|requeue_after|error|conflict|terminal)
//   photon_controller_reconcile_errors_total{controller} counter
//   photon_controller_reconcile_duration_seconds{controller} histogram
//   photon_leader_election_status{name}                gauge (1 leading, 0 not)
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { WorkQueueHooks } from './workqueue.ts';

export type ReconcileResultLabel = 'success' | 'requeue_after' | 'error' | 'conflict' | 'terminal';

const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class RuntimeMetrics {
  readonly queueDepth: Gauge<'name'>;
  readonly queueAdds: Counter<'name'>;
  readonly queueRetries: Counter<'name'>;
  readonly queueDuration: Histogram<'name'>;
  readonly workDuration: Histogram<'name'>;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileDuration: Histogram<'controller'>;
  readonly leaderStatus: Gauge<'name'>;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.queueDepth = new Gauge({ name: 'photon_workqueue_depth', help: 'Keys waiting in the work queue for a worker.', labelNames: ['name'], registers });
    this.queueAdds = new Counter({ name: 'photon_workqueue_adds_total', help: 'Keys added to the work queue (deduplicated adds included).', labelNames: ['name'], registers });
    this.queueRetries = new Counter({ name: 'photon_workqueue_retries_total', help: 'Keys re-added after a failure (rate limited).', labelNames: ['name'], registers });
    this.queueDuration = new Histogram({ name: 'photon_workqueue_queue_duration_seconds', help: 'Time a key waits in the queue before a worker takes it.', labelNames: ['name'], buckets: DURATION_BUCKETS, registers });
    this.workDuration = new Histogram({ name: 'photon_workqueue_work_duration_seconds', help: 'Time a worker spends on a key.', labelNames: ['name'], buckets: DURATION_BUCKETS, registers });
    this.reconcileTotal = new Counter({ name: 'photon_controller_reconcile_total', help: 'Reconciles by result.', labelNames: ['controller', 'result'], registers });
    this.reconcileErrors = new Counter({ name: 'photon_controller_reconcile_errors_total', help: 'Reconciles that failed (retried with backoff, or terminal).', labelNames: ['controller'], registers });
    this.reconcileDuration = new Histogram({ name: 'photon_controller_reconcile_duration_seconds', help: 'Duration of reconciles.', labelNames: ['controller'], buckets: DURATION_BUCKETS, registers });
    this.leaderStatus = new Gauge({ name: 'photon_leader_election_status', help: '1 while this process holds the lease, 0 otherwise.', labelNames: ['name'], registers });
  }

  /** Hooks feeding a work queue's numbers into these metrics under `name`. */
  queueHooks(name: string): WorkQueueHooks {
    return {
      depth: (depth) => this.queueDepth.set({ name }, depth),
      add: () => this.queueAdds.inc({ name }),
      retry: () => this.queueRetries.inc({ name }),
      queueDuration: (seconds) => this.queueDuration.observe({ name }, seconds),
      workDuration: (seconds) => this.workDuration.observe({ name }, seconds),
    };
  }

  observeReconcile(controller: string, result: ReconcileResultLabel, seconds: number): void {
    this.reconcileTotal.inc({ controller, result });
    if (result === 'error' || result === 'terminal') this.reconcileErrors.inc({ controller });
    this.reconcileDuration.observe({ controller }, seconds);
  }

  setLeader(name: string, leading: boolean): void {
    this.leaderStatus.set({ name }, leading ? 1 : 0);
  }
}
