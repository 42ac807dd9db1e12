/**
 * The turns streaming on this instance, by reply id: what a Map<string, ActiveTurn> would do, for
 * the garbage collector's sake.
 *
 * A Map that gains and loses an entry on every chat turn replaces its hash table every few dozen
 * turns, and V8 leaves each replaced table pointing at the next one and at the values it held.
 * Once one of those tables has reached the old generation, every young-generation collection
 * treats what it points at as alive until the next full collection: the next table, and through
 * the tables every turn that was in one, with its request, its reply and its promises. That kept
 * a share of every turn's objects alive long enough to be copied to the old generation.
 *
 * Here the hash table maps a reply id to a slot number, which is not a pointer, and the turns sit
 * in an array of slots that only grows to the highest number of turns at once; a slot is emptied
 * when its turn ends, so nothing old keeps a finished turn reachable. Iteration follows the order
 * in which the turns were added, as a Map's does.
 */
export class ActiveTurns<T> {
  private readonly slotOf = new Map<string, number>();
  private readonly ids: Array<string | undefined> = [];
  private readonly values: Array<T | undefined> = [];
  /** When each slot's turn was added, for iterating in that order. */
  private readonly added: number[] = [];
  private readonly free: number[] = [];
  private counter = 0;

  get size(): number {
    return this.slotOf.size;
  }

  has(id: string): boolean {
    return this.slotOf.has(id);
  }

  get(id: string): T | undefined {
    const slot = this.slotOf.get(id);
    return slot === undefined ? undefined : this.values[slot];
  }

  set(id: string, value: T): this {
    const known = this.slotOf.get(id);
    if (known !== undefined) {
      this.values[known] = value;
      return this;
    }
    const slot = this.free.pop() ?? this.ids.length;
    this.ids[slot] = id;
    this.values[slot] = value;
    this.added[slot] = this.counter++;
    this.slotOf.set(id, slot);
    return this;
  }

  delete(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    this.slotOf.delete(id);
    this.ids[slot] = undefined;
    this.values[slot] = undefined;
    this.free.push(slot);
    return true;
  }

  /** [id, turn] pairs in the order the turns were added. */
  entries(): Array<[string, T]> {
    const slots: number[] = [];
    for (let slot = 0; slot < this.ids.length; slot++) if (this.ids[slot] !== undefined) slots.push(slot);
    slots.sort((a, b) => (this.added[a] ?? 0) - (this.added[b] ?? 0));
    return slots.map((slot) => [this.ids[slot] as string, this.values[slot] as T]);
  }

  [Symbol.iterator](): IterableIterator<[string, T]> {
    return this.entries()[Symbol.iterator]();
  }
}
