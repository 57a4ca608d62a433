// A list of names for a message, bounded: a condition message or an error is read by people and stored in
// objects, and a Subnet with 65,000 Ports must not put them all in one.

/** "a, b, c" — or the first `max` and "and N more"; only the items shown are put into words by `name`. */
export function fewNames<T = string>(items: readonly T[], max = 10, name: (item: T) => string = String): string {
  const shown = items.slice(0, max).map(name).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}
