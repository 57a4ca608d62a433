// The controller runtime every PhotonCloud controller and agent uses (docs/architecture.md, "A reconcile").
export * from './controller.ts';
export * from './events.ts';
export * from './finalizers.ts';
export * from './informer.ts';
export * from './leader-election.ts';
export * from './metrics.ts';
export * from './reconciler.ts';
export * from './status.ts';
export * from './workqueue.ts';
export * from './lifecycle.ts';
export * from './informer-index.ts';
export * from './predicates.ts';
