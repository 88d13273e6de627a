/**
 * Start-time fair queueing of work items across tenants (an API key, an anonymous client's address: tenant.ts), each
 * holding requests ("tickets"), by cost (here: characters, which is what a
 * sentence costs the embedder: tokenising dominates long inputs). Each ticket carries a virtual clock: the cost of
 * what it has been served so far. The next item always comes from the backlogged ticket whose clock is lowest, and
 * a new ticket starts at the lowest clock of those waiting, so it neither jumps ahead with saved-up credit nor
 * waits behind the whole backlog of a big one. A single query therefore waits for at most the call in flight,
 * while a batch of 1000 still gets every slot nobody else wants. The clock belongs to the ticket's flow: every
 * ticket of one tenant shares one, so a tenant with 32 requests waiting advances 32 times as fast as each of them
 * alone would and gets the share of one (issue 25); a ticket added without a tenant is a flow of its own (a library
 * caller, a build: one request, one share, as before). Pure data structure: no timers, no I/O.
 */
export interface QueuedItem<T> {
  readonly value: T;
  readonly cost: number;
}

/** What the waiting tickets of one tenant share: the virtual clock, and how many of them wait. */
export class Flow {
  /** Cost served so far, in the queue's virtual time. */
  clock = 0;
  backlogged = 0;
  constructor(readonly tenant?: string) {}
}

export class FairTicket<T> {
  readonly items: QueuedItem<T>[] = [];
  /** Position of the next item (items are consumed from the front without shifting the array). */
  head = 0;
  /** The next of `calls` to serve. */
  nextCall = 0;
  /** Cost served to this ticket itself: within its flow, the ticket served least goes first (a tenant's small request is not queued behind its own batch). */
  own = 0;

  constructor(
    /** Arrival order: breaks ties between equal clocks, first come first served. */
    readonly seq: number,
    /**
     * Where the ticket's items are cut into calls of their own, fixed when it was added (sizes, in order): each call is
     * served whole and alone, so what shares a call depends only on the items, never on timing or other tickets.
     * Absent: items are served one by one, in calls shared with other tickets.
     */
    readonly calls?: readonly number[],
    /** Its tenant's flow (whose clock it advances). */
    readonly flow: Flow = new Flow(),
  ) {}

  /** Cost its flow has been served so far, in the queue's virtual time. */
  get clock(): number {
    return this.flow.clock;
  }

  set clock(value: number) {
    this.flow.clock = value;
  }

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

/**
 * Cuts items into calls at fixed positions: in order, each call as many items as fit `maxItems` and `maxCost` (an
 * item costlier than `maxCost` alone). The sizes depend only on the items' costs and the limits.
 */
export function fixedCalls(costs: readonly number[], maxItems: number, maxCost: number): number[] {
  const sizes: number[] = [];
  let size = 0;
  let cost = 0;
  for (const c of costs) {
    if (size > 0 && (size >= maxItems || cost + c > maxCost)) {
      sizes.push(size);
      size = 0;
      cost = 0;
    }
    size += 1;
    cost += c;
  }
  if (size > 0) sizes.push(size);
  return sizes;
}

export class FairQueue<T> {
  private readonly backlogged = new Set<FairTicket<T>>();
  /** The flows of tenants with tickets waiting (a flow leaves when its last waiting ticket does). */
  private readonly flows = new Map<string, Flow>();
  private seq = 0;
  /** Virtual time: the lowest clock among backlogged tickets when last known (new tickets start here). */
  private now = 0;

  /** Items waiting, over all tickets. */
  get size(): number {
    let n = 0;
    for (const ticket of this.backlogged) n += ticket.pending;
    return n;
  }

  /** Tenants with items waiting (tickets added without a tenant count one each). */
  get waitingFlows(): number {
    return new Set([...this.backlogged].map((t) => t.flow)).size;
  }

  /** Tickets with items waiting. */
  get waitingTickets(): number {
    return this.backlogged.size;
  }

  /**
   * Opens a ticket holding these items (one request's sentences). With `calls` (sizes summing to the items' count,
   * e.g. from fixedCalls), the items go in those calls, each whole and alone; the ticket still takes its fair turn.
   * With a `tenant`, the ticket joins that tenant's flow (its clock as it stands) where the tenant has tickets
   * waiting; a tenant with none starts a flow at the lowest waiting clock, as a ticket without a tenant does.
   */
  add(items: readonly QueuedItem<T>[], calls?: readonly number[], tenant?: string): FairTicket<T> {
    if (calls && calls.reduce((n, c) => n + c, 0) !== items.length) throw new Error('fixed calls must cover the items exactly');
    let flow = tenant === undefined ? undefined : this.flows.get(tenant);
    if (!flow) {
      flow = new Flow(tenant);
      flow.clock = this.lowestClock() ?? this.now;
    }
    const ticket = new FairTicket<T>(this.seq++, calls, flow);
    // Within the flow, it starts level with the flow's least served waiting ticket: no credit, no backlog.
    let least: number | undefined;
    for (const other of this.backlogged) if (other.flow === flow && (least === undefined || other.own < least)) least = other.own;
    ticket.own = least ?? 0;
    ticket.items.push(...items);
    if (ticket.pending > 0) this.enter(ticket);
    return ticket;
  }

  private enter(ticket: FairTicket<T>): void {
    this.backlogged.add(ticket);
    ticket.flow.backlogged += 1;
    if (ticket.flow.tenant !== undefined) this.flows.set(ticket.flow.tenant, ticket.flow);
  }

  private leave(ticket: FairTicket<T>): void {
    if (!this.backlogged.delete(ticket)) return;
    ticket.flow.backlogged -= 1;
    if (ticket.flow.backlogged === 0 && ticket.flow.tenant !== undefined) this.flows.delete(ticket.flow.tenant);
  }

  /** Removes a ticket's waiting items (its request was cancelled) and returns them. */
  cancel(ticket: FairTicket<T>): T[] {
    const dropped = ticket.items.slice(ticket.head).map((i) => i.value);
    ticket.head = ticket.items.length;
    this.leave(ticket);
    return dropped;
  }

  /** Removes every waiting item of every ticket and returns them. */
  clear(): T[] {
    return [...this.backlogged].flatMap((ticket) => this.cancel(ticket));
  }

  /**
   * The items of the next call: repeatedly the head item of the eligible ticket with the lowest clock, until the
   * call is full by count, or no ticket's next item fits its remaining cost. Items come back with their ticket. A
   * ticket with fixed calls gives its next call whole (whatever the limits) when it is chosen first, and sits out a
   * call that others started.
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
      if (ticket.calls) {
        if (call.length > 0) {
          full.add(ticket);
          continue;
        }
        for (let n = ticket.calls[ticket.nextCall++]; n > 0; n--) this.serve(ticket, call);
        break;
      }
      const item = ticket.items[ticket.head];
      if (call.length > 0 && cost + item.cost > limits.maxCost) {
        full.add(ticket);
        continue;
      }
      cost += item.cost;
      this.serve(ticket, call);
    }
    const lowest = this.lowestClock();
    if (lowest !== undefined) this.now = lowest;
    return call;
  }

  /** Moves the ticket's head item into the call. */
  private serve(ticket: FairTicket<T>, call: { ticket: FairTicket<T>; value: T }[]): void {
    const item = ticket.items[ticket.head];
    ticket.head += 1;
    ticket.clock += item.cost;
    ticket.own += item.cost;
    call.push({ ticket, value: item.value });
    if (ticket.pending === 0) {
      this.leave(ticket);
      this.now = Math.max(this.now, ticket.clock);
    }
  }

  private nextTicket(eligible?: (ticket: FairTicket<T>) => boolean): FairTicket<T> | undefined {
    let best: FairTicket<T> | undefined;
    for (const ticket of this.backlogged) {
      if (eligible && !eligible(ticket)) continue;
      // Lowest flow clock first; within a flow (same clock), the ticket served least; then first come.
      if (!best || ticket.clock < best.clock || (ticket.clock === best.clock && (ticket.flow === best.flow && ticket.own !== best.own ? ticket.own < best.own : ticket.seq < best.seq))) best = ticket;
    }
    return best;
  }

  private lowestClock(): number | undefined {
    let lowest: number | undefined;
    for (const ticket of this.backlogged) if (lowest === undefined || ticket.clock < lowest) lowest = ticket.clock;
    return lowest;
  }
}
