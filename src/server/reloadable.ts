import type { RequestListener } from 'node:http';
import type { DemoService } from '../service/service.js';
import { collectGarbage } from './collect-garbage.js';

/** One opening of the served indexes: the service and the app over it, with the requests it is answering. */
interface Generation {
  readonly service: DemoService;
  readonly listener: RequestListener;
  inFlight: number;
  retired: boolean;
  closed?: Promise<void>;
}

/**
 * The served indexes, reopened while serving (`serve` on SIGHUP). Each opening is a generation: a DemoService and
 * the app over it. A request is answered wholly by the generation current when it arrived; a reload opens the new
 * service first (every index checked as at start), and only when that succeeds do new requests go to it, while
 * the old one finishes what it holds and is then closed. A failed reload changes nothing. Reloads run one at a time;
 * one asked for while another runs follows it.
 */
export class ReloadableService {
  private current: Generation;
  private readonly retired = new Set<Generation>();
  private chain: Promise<unknown> = Promise.resolve();
  /** Set by close(): the process is ending, nothing to collect for. */
  private closing = false;

  constructor(
    service: DemoService,
    private readonly makeApp: (service: DemoService) => RequestListener,
  ) {
    this.current = this.generation(service);
  }

  /** The service answering new requests. */
  get service(): DemoService {
    return this.current.service;
  }

  /** The request listener for the HTTP server: each request goes to the generation current on its arrival. */
  readonly listener: RequestListener = (req, res) => {
    const generation = this.current;
    generation.inFlight += 1;
    res.once('close', () => {
      generation.inFlight -= 1;
      this.closeIfDone(generation);
    });
    generation.listener(req, res);
  };

  /**
   * Opens a new service with `load` and serves it from now on; rejects with load's error (the current service
   * keeps serving). Resolves with the new service.
   */
  reload(load: () => Promise<DemoService>): Promise<DemoService> {
    const next = this.chain.then(async () => {
      const service = await load();
      const old = this.current;
      this.current = this.generation(service);
      old.retired = true;
      this.retired.add(old);
      this.closeIfDone(old);
      return service;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Closes every generation (the current one and those still finishing): for shutdown. */
  async close(): Promise<void> {
    this.closing = true;
    await this.chain;
    this.current.retired = true;
    this.retired.add(this.current);
    await Promise.all([...this.retired].map((g) => (g.closed ??= g.service.close())));
  }

  private generation(service: DemoService): Generation {
    return { service, listener: this.makeApp(service), inFlight: 0, retired: false };
  }

  /**
   * A retired generation is closed (its indexes' graphs freed) once its last request is over, and what it held is
   * collected then (collect-garbage.ts).
   */
  private closeIfDone(generation: Generation): void {
    if (!generation.retired || generation.inFlight > 0 || generation.closed) return;
    generation.closed = generation.service.close().finally(() => {
      this.retired.delete(generation);
      if (!this.closing) setImmediate(collectGarbage);
    });
  }
}
