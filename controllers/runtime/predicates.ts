// Update predicates for watches (WatchSource.updateMatters): which updates of another kind can change what a
// reconciler does. Every one says yes for anything it cannot rule out.
import type { KubeObject } from '../../apis/meta/types.ts';

/** Its spec (metadata.generation moves with every spec change) or whether it is being deleted changed. */
export const specOrDeletionChanged = (oldObject: KubeObject, newObject: KubeObject): boolean =>
  oldObject.metadata.generation !== newObject.metadata.generation || (oldObject.metadata.deletionTimestamp === undefined) !== (newObject.metadata.deletionTimestamp === undefined);
