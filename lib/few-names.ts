// A list of names for a message, bounded: a condition message or an error is read by people and stored in
// objects, and a Subnet with 65,000 Ports must not put them all in one.

/** "a, b, c" — or the first `max` and "and N more". */
export function fewNames(names: readonly string[], max = 10): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
