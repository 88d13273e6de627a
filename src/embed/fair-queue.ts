/**
 * Start-time fair queueing of work items across requests ("tickets"), by cost (here: characters, which is what a
 * sentence costs the embedder: tokenising dominates long inputs). Each ticket carries a virtual clock: the cost of
 * what it has been served so far. The next item always comes from the backlogged ticket whose clock is lowest, and
 * a new ticket starts at the lowest clock of those waiting, so it neither jumps ahead with saved-up credit nor
 * waits behind the whole backlog of a big one. A single query therefore waits for at most the call in flight,
 * while a batch of 1000 still gets every slot nobody else wants. Pure data structure: no timers, no I/O.
 */
export interface QueuedItem<T> {
  readonly value: T;
  readonly cost: number;
}

export class FairTicket<T> {
  /** Cost served so far, in the queue's virtual time. */
  clock = 0;
  readonly items: QueuedItem<T>[] = [];
  /** Position of the next item (items are consumed from the front without shifting the array). */
  head = 0;

  constructor(
    /** Arrival order: breaks ties between equal clocks, first come first served. */
    readonly seq: number,
  ) {}

  get pending(): number {
    return this.items.length - this.head;
  }
}

export interface TakeLimits<T> {
  /** At most this many items in one call. */
  maxItems: number;
  /** At most this much cost in one call, except that a call always takes at least one item. */
  maxCost: number;
  /** Tickets that may not contribute to this call (e.g. already at their share of the workers). */
  eligible?: (ticket: FairTicket<T>) => boolean;
}

export class FairQueue<T> {
  private readonly backlogged = new Set<FairTicket<T>>();
  private seq = 0;
  /** Virtual time: the lowest clock among backlogged tickets when last known (new tickets start here). */
  private now = 0;

  /** Items waiting, over all tickets. */
  get size(): number {
    let n = 0;
    for (const ticket of this.backlogged) n += ticket.pending;
    return n;
  }

  /** Tickets with items waiting. */
  get waitingTickets(): number {
    return this.backlogged.size;
  }

  /** Opens a ticket holding these items (one request's sentences). */
  add(items: readonly QueuedItem<T>[]): FairTicket<T> {
    const ticket = new FairTicket<T>(this.seq++);
    ticket.clock = this.lowestClock() ?? this.now;
    ticket.items.push(...items);
    if (ticket.pending > 0) this.backlogged.add(ticket);
    return ticket;
  }

  /** Removes a ticket's waiting items (its request was cancelled) and returns them. */
  cancel(ticket: FairTicket<T>): T[] {
    const dropped = ticket.items.slice(ticket.head).map((i) => i.value);
    ticket.head = ticket.items.length;
    this.backlogged.delete(ticket);
    return dropped;
  }

  /** Removes every waiting item of every ticket and returns them. */
  clear(): T[] {
    return [...this.backlogged].flatMap((ticket) => this.cancel(ticket));
  }

  /**
   * The items of the next call: repeatedly the head item of the eligible ticket with the lowest clock, until the
   * call is full by count, or no ticket's next item fits its remaining cost. Items come back with their ticket.
   */
  take(limits: TakeLimits<T>): { ticket: FairTicket<T>; value: T }[] {
    const call: { ticket: FairTicket<T>; value: T }[] = [];
    let cost = 0;
    // A ticket whose next item does not fit sits out the rest of this call; others' smaller items still may.
    const full = new Set<FairTicket<T>>();
    const eligible = (ticket: FairTicket<T>) => !full.has(ticket) && (limits.eligible?.(ticket) ?? true);
    while (call.length < limits.maxItems) {
      const ticket = this.nextTicket(eligible);
      if (!ticket) break;
      const item = ticket.items[ticket.head];
      if (call.length > 0 && cost + item.cost > limits.maxCost) {
        full.add(ticket);
        continue;
      }
      ticket.head += 1;
      ticket.clock += item.cost;
      cost += item.cost;
      call.push({ ticket, value: item.value });
      if (ticket.pending === 0) {
        this.backlogged.delete(ticket);
        this.now = Math.max(this.now, ticket.clock);
      }
    }
    const lowest = this.lowestClock();
    if (lowest !== undefined) this.now = lowest;
    return call;
  }

  private nextTicket(eligible?: (ticket: FairTicket<T>) => boolean): FairTicket<T> | undefined {
    let best: FairTicket<T> | undefined;
    for (const ticket of this.backlogged) {
      if (eligible && !eligible(ticket)) continue;
      if (!best || ticket.clock < best.clock || (ticket.clock === best.clock && ticket.seq < best.seq)) best = ticket;
    }
    return best;
  }

  private lowestClock(): number | undefined {
    let lowest: number | undefined;
    for (const ticket of this.backlogged) if (lowest === undefined || ticket.clock < lowest) lowest = ticket.clock;
    return lowest;
  }
}
