// Array helpers safe for client-sized inputs. `target.push(...items)` passes every item as an argument
// and throws RangeError (call stack size) past ~100k items — a count any request body can reach.

/** Appends every item to target, in order, without spreading them as arguments. */
export function pushAll<T>(target: T[], items: Iterable<T>): T[] {
  for (const item of items) target.push(item);
  return target;
}
