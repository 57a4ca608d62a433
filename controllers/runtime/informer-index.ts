// Indexes over an informer's objects, kept from its events (client-go's Indexer): a reconcile that needs the
// objects related to its own (a Subnet's Ports, the Ports a VM uses) looks them up by key instead of scanning
// the kind, which at scale makes every pass O(objects) and a run quadratic (docs/architecture.md, informers).

import type { KubeObject } from '../../apis/meta/types.ts';
import type { Informer } from './informer.ts';

const shared = new WeakMap<Informer<never>, Map<string, unknown>>();

/**
 * One index per informer and name, made on first use and shared by every controller of the process that asks
 * for it (an index costs memory and an event handler; two controllers wanting the same one need only one).
 */
export function sharedIndex<I, T extends KubeObject>(informer: Informer<T>, name: string, make: () => I): I {
  const key = informer as unknown as Informer<never>;
  let byName = shared.get(key);
  if (!byName) shared.set(key, (byName = new Map()));
  if (!byName.has(name)) byName.set(name, make());
  return byName.get(name) as I;
}

/** Object names filed under string keys: each object under every key keysOf gives it (none: not filed). */
export class InformerIndex<T extends KubeObject> {
  /** Key → names of the objects filed under it. Keys carry the namespace where it matters (keysOf's choice). */
  private readonly byKey = new Map<string, Set<string>>();
  /** Object (namespace/name) → the keys it was filed under, to take it back out on update or delete. */
  private readonly filed = new Map<string, readonly string[]>();

  constructor(
    informer: Informer<T>,
    private readonly keysOf: (object: T) => readonly string[],
  ) {
    informer.addEventHandler({ onAdd: (object) => this.put(object), onUpdate: (_old, object) => this.put(object), onDelete: (object) => this.remove(object) });
  }

  /** Names of the objects filed under key, in no particular order. */
  names(key: string): string[] {
    return [...(this.byKey.get(key) ?? [])];
  }

  /** How many objects are filed under key. */
  count(key: string): number {
    return this.byKey.get(key)?.size ?? 0;
  }

  private put(object: T): void {
    this.remove(object);
    const keys = [...new Set(this.keysOf(object))];
    for (const key of keys) {
      let names = this.byKey.get(key);
      if (!names) this.byKey.set(key, (names = new Set()));
      names.add(object.metadata.name!);
    }
    if (keys.length > 0) this.filed.set(objectKeyOf(object), keys);
  }

  private remove(object: T): void {
    const key = objectKeyOf(object);
    for (const filedUnder of this.filed.get(key) ?? []) {
      const names = this.byKey.get(filedUnder);
      names?.delete(object.metadata.name!);
      if (names?.size === 0) this.byKey.delete(filedUnder);
    }
    this.filed.delete(key);
  }
}

const objectKeyOf = (object: KubeObject) => `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
