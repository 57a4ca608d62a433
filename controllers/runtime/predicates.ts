// Update predicates for watches (WatchSource.updateMatters): which updates of another kind can change what a
// reconciler does. Every one says yes for anything it cannot rule out.
import type { KubeObject } from '../../apis/meta/types.ts';

/** Its spec (metadata.generation moves with every spec change) or whether it is being deleted changed. */
export const specOrDeletionChanged = (oldObject: KubeObject, newObject: KubeObject): boolean =>
  oldObject.metadata.generation !== newObject.metadata.generation || (oldObject.metadata.deletionTimestamp === undefined) !== (newObject.metadata.deletionTimestamp === undefined);

type StatusOf<T> = T extends { status?: infer S } ? NonNullable<S> : never;

/**
 * specOrDeletionChanged, or one of the named status fields changed (compared with ===: give fields holding
 * strings or numbers). The fields are typed by the kind, so a misspelt one is a compile error, not a predicate
 * that never fires: `specDeletionOrStatusChanged<PortObject>('ipAddress')`.
 */
export function specDeletionOrStatusChanged<T extends KubeObject & { status?: object }>(...fields: Array<keyof StatusOf<T>>) {
  return (oldObject: T, newObject: T): boolean =>
    specOrDeletionChanged(oldObject, newObject) || fields.some((field) => (oldObject.status as StatusOf<T> | undefined)?.[field] !== (newObject.status as StatusOf<T> | undefined)?.[field]);
}
