import express, { type NextFunction, type Request, type Response } from 'express';
import { InputError } from '../errors.js';
import { TemplateError } from '../prompt/fill.js';
import { DemoBatchSchema, parsePromptRequest } from '../service/prompt-request.js';
import { DemoQuerySchema } from '../service/query.js';
import type { DemoService } from '../service/service.js';
import { parseInput } from '../service/validate.js';

/** A query string value given twice arrives as an array; name it rather than guess which one was meant. */
function singleValued(query: Request['query']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    if (typeof value !== 'string') throw new InputError(key, 'must be given once, as a plain value');
    out[key] = value;
  }
  return out;
}

/** The HTTP door: routing, validation and error mapping only; the work is DemoService's. */
export function createApp(service: DemoService): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(express.json({ limit: '5mb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', indexes: [...service.indexes.keys()] });
  });

  app.get('/indexes', (_req, res) => {
    res.json({
      indexes: [...service.indexes.entries()].map(([name, index]) => ({ name, dir: index.dir, manifest: index.manifest })),
    });
  });

  app.get('/demonstrations', async (req, res) => {
    const query = parseInput(DemoQuerySchema, singleValued(req.query), 'query');
    res.json(await service.demonstrations(query));
  });

  app.post('/demonstrations', async (req, res) => {
    const batch = parseInput(DemoBatchSchema, req.body ?? {}, 'body');
    const started = performance.now();
    const results = await service.demonstrationsBatch(batch.queries);
    res.json({ took_ms: Number((performance.now() - started).toFixed(2)), results });
  });

  app.post('/prompts', async (req, res) => {
    res.json(await service.prompt(parsePromptRequest(req.body ?? {})));
  });

  app.use((req, res) => {
    res.status(404).json({ error: { param: null, message: `no route ${req.method} ${req.path}` } });
  });

  // Every failure leaves as JSON: caller mistakes as 400 naming the parameter, the rest as 500 without a stack.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof InputError) {
      res.status(400).json({ error: { param: error.param, message: error.message } });
      return;
    }
    if (error instanceof TemplateError) {
      res.status(400).json({ error: { param: 'format', message: `format: ${error.message}` } });
      return;
    }
    const status = (error as { status?: number; type?: string }).status;
    if (status && status >= 400 && status < 500) {
      // body-parser errors: malformed JSON, too large, wrong charset.
      res.status(status).json({ error: { param: 'body', message: (error as Error).message } });
      return;
    }
    console.error('unexpected error:', error);
    res.status(500).json({ error: { param: null, message: 'internal error' } });
  });
  return app;
}
