import express, { type Request, type Response, type Router } from 'express';
import { allowIndexes, requireScope } from '../keys/auth.js';
import { InputError } from '../errors.js';
import { parseInteger } from '../numbers.js';
import type { DemoService } from '../service/service.js';
import { parseInput } from '../service/validate.js';
import { AddDialoguesSchema, RelabelSchema } from '../service/writes.js';
import { requestSignal } from './request-signal.js';

/**
 * The write routes (issue: an index that grows while it serves): add dialogues, relabel a turn, remove a dialogue.
 * Each needs a key with scope write that may use the index named in the path (writes are never anonymous); the work
 * and its rules are DemoService's. An index not served is a 404 naming it.
 */
export function writeRoutes(service: DemoService): Router {
  const router = express.Router();
  const served = () => service.indexes;
  const guard = [requireScope('write'), allowIndexes(served, (req: Request) => [{ param: 'index', name: String(req.params.name) }])];
  const indexOf = (req: Request): string => {
    const name = String(req.params.name);
    if (!service.indexes.has(name)) throw new InputError('index', `no index "${name.slice(0, 200)}" is served here`, 'NOT_FOUND');
    return name;
  };

  router.post('/indexes/:name/dialogues', ...guard, async (req: Request, res: Response) => {
    const index = indexOf(req);
    const body = parseInput(AddDialoguesSchema, req.body ?? {}, 'body');
    res.status(201).json(await service.addDialogues({ index, dialogues: body.dialogues }, requestSignal(res)));
  });

  router.patch('/indexes/:name/dialogues/:dialogue/turns/:turn', ...guard, async (req: Request, res: Response) => {
    const index = indexOf(req);
    const body = parseInput(RelabelSchema, req.body ?? {}, 'body');
    const turn = parseInteger('turn', String(req.params.turn), { min: 0 });
    res.json(await service.relabel({ index, dialogue: String(req.params.dialogue), turn, ...body }));
  });

  router.delete('/indexes/:name/dialogues/:dialogue', ...guard, async (req: Request, res: Response) => {
    res.json(await service.removeDialogue({ index: indexOf(req), dialogue: String(req.params.dialogue) }));
  });
  return router;
}
