/**
 * The writer the kill -9 fault run (scripts/reliability/live-faults.ts) kills: opens the index through DemoService (as
 * `erc-demos add` does), then writes without pause, printing `{"begin":n,"op":...}` before each write and
 * `{"ack":n,"seq":s}` the moment it is acknowledged. process.stdout on a pipe is synchronous on Linux, so an ack
 * line has reached the pipe before the next write begins: what the parent read as acknowledged was acknowledged.
 *   node --import tsx scripts/reliability/live-fault-writer.ts <job.json>
 */
import { readFileSync } from 'node:fs';
import { DemoService } from '../../src/service/service.js';
import { settingsFromEnv } from '../../src/settings.js';
import { OpScript, type FaultOp, type WriterJob } from './live-faults.js';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as WriterJob;
const say = (msg: object) => process.stdout.write(`${JSON.stringify(msg)}\n`);

const service = await DemoService.load([job.index], { settings: { ...settingsFromEnv(), embedCacheMb: 0 }, role: 'batch' });
const script = new OpScript(job);
say({ ready: true });

async function write(op: FaultOp): Promise<number> {
  if (op.kind === 'add') return (await service.addDialogues({ dialogues: op.dialogues })).seq;
  if (op.kind === 'relabel') return (await service.relabel({ dialogue: op.dialogue, turn: op.turn, label: op.label })).seq;
  return (await service.removeDialogue({ dialogue: op.dialogue })).seq;
}

for (let n = 0; ; n++) {
  const op = script.next();
  say({ begin: n, op });
  const seq = await write(op);
  say({ ack: n, seq });
  script.acked(op);
}
