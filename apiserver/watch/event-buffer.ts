// The watch cache's history: events in revision order, the oldest dropped as new ones come. Dropping from the
// front of a plain array (`splice(0, n)`) moves every event kept: with the default 100,000 events and one
// event per storage write that was a tenth of the API server's CPU in the scale run. Here the array is read
// from an offset, and the dropped prefix is cut off in bulk only once it is as long as what is kept, so each
// event is moved at most once on average.

/** What the buffer needs of an event. */
export interface BufferedEvent {
  revision: number;
}

export class EventBuffer<E extends BufferedEvent> {
  /** Held events from `first` on; dropped slots before it are emptied (their objects can be collected). */
  private events: Array<E | undefined> = [];
  /** Index of the oldest event still held; everything before it was dropped. */
  private first = 0;

  get size(): number {
    return this.events.length - this.first;
  }

  push(event: E): void {
    this.events.push(event);
  }

  clear(): void {
    this.events = [];
    this.first = 0;
  }

  /** Drops the oldest events until at most `capacity` are left; returns the last one dropped, if any. */
  trimTo(capacity: number): E | undefined {
    const excess = this.size - capacity;
    if (excess <= 0) return undefined;
    const lastDropped = this.events[this.first + excess - 1];
    this.dropBefore(this.first + excess);
    return lastDropped;
  }

  /** Drops every event at or below `revision`. */
  dropThrough(revision: number): void {
    this.dropBefore(this.indexAfter(revision));
  }

  /** The events after `revision`, in order, that `keep` accepts. */
  after(revision: number, keep: (event: E) => boolean): E[] {
    const found: E[] = [];
    for (let index = this.indexAfter(revision); index < this.events.length; index++) {
      const event = this.events[index]!;
      if (keep(event)) found.push(event);
    }
    return found;
  }

  /** The index of the first held event with a revision above `revision` (revisions only grow). */
  private indexAfter(revision: number): number {
    let low = this.first;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.events[middle]!.revision <= revision) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /**
   * Drops the events before `index`, emptying their slots; the emptied prefix is cut off once it is at least as
   * long as what is held (amortised: O(1) per event).
   */
  private dropBefore(index: number): void {
    for (; this.first < index; this.first++) this.events[this.first] = undefined;
    if (this.first === 0 || this.first < this.size) return;
    this.events = this.events.slice(this.first);
    this.first = 0;
  }
}
