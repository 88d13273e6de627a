import { charCount } from '../chars.js';
import { labelScheme, toInstructercLabel, toUnifiedLabel, UNIFIED_LABELS } from '../corpus/labels.js';
import { InputError } from '../errors.js';
import { PromptTooLongError } from '../errors.js';
import { fill, type TemplateVars } from './fill.js';
import type { PromptFormat } from './formats.js';
import { track1Levels, track2Levels, track3Levels } from './wassa.js';

export interface PromptTurn {
  speaker: string;
  text: string;
  labels?: readonly string[];
  scores?: Readonly<Record<string, number | null>>;
}

export interface PromptDemo {
  text: string;
  labels: readonly string[];
  scores?: Readonly<Record<string, number | null>>;
  /** The corpus the demonstration comes from (its labels are in that corpus' names). */
  corpus: string;
}

export interface RenderInput {
  /** The corpus the dialogue's labels belong to (picks label names and lists). */
  corpus: string;
  turns: readonly PromptTurn[];
  target: number;
  demonstrations: readonly PromptDemo[];
  /** Overrides the format's history window. */
  window?: number;
  /** Map labels into the unified 9-label Feeling-Wheel space. */
  unified?: boolean;
  /** The labels the index holds, for corpora without a known scheme. */
  labelSet?: readonly string[];
  /** Refuse (PromptTooLongError) a prompt, or any part of it, longer than this. */
  maxChars?: number;
}

export interface RenderedPrompt {
  prompt: string;
  /** The expected answer, or null where the dialogue lacks what it needs (no gold label, a missing score). */
  target: string | null;
}

export const ZH_LABELS = ['Disgust', 'Anger', 'Sad', 'Happy', 'Neutral', 'Surprise', 'Fear'] as const;
/** The Chinese entry's seven labels from the unified space (peaceful -> Neutral, powerful -> Surprise, excited -> Happy). */
const UNIFIED_TO_ZH: Record<string, string> = {
  joyful: 'Happy', sad: 'Sad', neutral: 'Neutral', mad: 'Anger', excited: 'Happy', powerful: 'Surprise', fear: 'Fear',
  peaceful: 'Neutral', disgust: 'Disgust',
};

function displayLabel(format: PromptFormat, corpus: string, label: string, unified: boolean): string {
  if (format.label_names === 'zh') {
    const direct = ZH_LABELS.find((z) => z.toLowerCase() === label.toLowerCase());
    return direct ?? UNIFIED_TO_ZH[toUnifiedLabel(corpus, label)];
  }
  if (unified) return toUnifiedLabel(corpus, label);
  return format.label_names === 'instructerc' ? toInstructercLabel(corpus, label) : label;
}

function labelList(format: PromptFormat, corpus: string, unified: boolean, labelSet: readonly string[] | undefined): string {
  if (format.label_names === 'zh') return ZH_LABELS.join(', ');
  if (unified) return UNIFIED_LABELS.join(', ');
  const scheme = labelScheme(corpus);
  const list = format.label_names === 'instructerc' && scheme?.instructerc.length ? scheme.instructerc : scheme?.own ?? labelSet ?? [];
  return list.join(', ');
}

/** Speaker names as the format writes them, for every turn of the dialogue. */
function speakerNames(format: PromptFormat, corpus: string, turns: readonly PromptTurn[], target: number): string[] {
  if (format.speakers === 'original') return turns.map((t) => t.speaker);
  if (format.speakers === 'wassa') return turns.map((t) => (t.speaker === turns[target].speaker ? 'Speaker1' : 'Speaker2'));
  const order = new Map<string, number>();
  // IEMOCAP's two speakers have fixed ids in InstructERC (M -> Speaker_0, F -> Speaker_1).
  if (format.speakers === 'instructerc' && corpus === 'iemocap') {
    order.set('M', 0);
    order.set('F', 1);
  }
  for (const t of turns) if (!order.has(t.speaker)) order.set(t.speaker, order.size);
  return turns.map((t) => {
    const n = order.get(t.speaker)!;
    return format.speakers === 'letters' ? letterName(n) : `Speaker_${n}`;
  });
}

/** A, B, ..., Z, AA, AB, ... */
function letterName(n: number): string {
  return n < 26 ? String.fromCharCode(65 + n) : letterName(Math.floor(n / 26) - 1) + letterName(n % 26);
}

function levelVars(format: PromptFormat, scores: PromptTurn['scores']): Record<string, string | null> {
  if (format.levels === 'wassa-t1') return track1Levels(scores);
  if (format.levels === 'wassa-t2') return track2Levels(scores);
  if (format.levels === 'wassa-t3') return track3Levels(scores);
  return {};
}

function labelVars(format: PromptFormat, corpus: string, labels: readonly string[] | undefined, unified: boolean): { label: string | null; labels: string | null } {
  if (!labels) return { label: null, labels: null };
  const shown = labels.map((l) => displayLabel(format, corpus, l, unified));
  return { label: shown[0] ?? null, labels: shown.length ? shown.join(', ') : 'none' };
}

/**
 * Collects rendered parts and refuses them as soon as their joined length passes the limit: each part is checked
 * when it is filled, their sum as it grows, so a template that repeats the text cannot fill memory one turn or one
 * demonstration at a time.
 */
function boundedParts(separator: string, maxChars: number, param: string, what: string): { parts: string[]; add: (part: string) => void } {
  const parts: string[] = [];
  let size = 0;
  return {
    parts,
    add(part) {
      if (maxChars === Number.POSITIVE_INFINITY) {
        parts.push(part);
        return;
      }
      size += charCount(part) + (parts.length > 0 ? charCount(separator) : 0);
      parts.push(part);
      if (size > maxChars) throw new PromptTooLongError(param, `${what} reaches ${size} characters and more, past this service's limit of ${maxChars} (ERC_DEMOS_MAX_PROMPT_CHARS)`);
    },
  };
}

/** Renders one prompt: pure, from a dialogue, a target turn, a window and the demonstrations to show. */
export function renderPrompt(format: PromptFormat, input: RenderInput): RenderedPrompt {
  const { turns, target, corpus } = input;
  const unified = input.unified ?? false;
  if (!Number.isInteger(target) || target < 0 || target >= turns.length) {
    throw new InputError('target', `must be a turn index in 0..${turns.length - 1}, got ${target}`);
  }
  if (target < format.min_target) {
    throw new InputError('target', `format ${format.name} needs a target turn >= ${format.min_target} (it predicts from the turns before it)`);
  }
  const window = input.window ?? format.window;
  const maxChars = input.maxChars ?? Number.POSITIVE_INFINITY;
  const names = speakerNames(format, corpus, turns, target);
  const first = format.history === 'all' ? 0 : Math.max(0, target - window);
  const last = format.history === 'all' ? turns.length - 1 : format.include_target ? target : target - 1;
  const turnText = (i: number) => fill(format.turn, { speaker: names[i], text: turns[i].text }, `${format.name}.turn`, maxChars, 'format.turn')!;
  const history = boundedParts(format.turn_separator, maxChars, 'options.window', 'the history window');
  for (let i = first; i <= last; i++) history.add(format.turn_prefix + turnText(i));

  const items = boundedParts(format.demo.separator, maxChars, 'options.k', 'the demonstrations');
  for (const d of input.demonstrations) {
    const item = fill(format.demo.item, {
      text: d.text,
      ...labelVars(format, d.corpus, d.labels, unified),
      ...levelVars(format, d.scores),
    }, `${format.name}.demo.item`, maxChars, 'format.demo.item');
    if (item !== null) items.add(item);
  }
  const demonstrations = items.parts.length ? fill(format.demo.block, { examples: items.parts.join(format.demo.separator) }, `${format.name}.demo.block`, maxChars, 'format.demo.block')! : '';

  const targetTurn = turns[target];
  const speakerCount = corpus === 'iemocap' ? 2 : 9;
  // The answer's placeholders ({label}, levels) are not the template's: a template using one is an error, not a leak.
  const templateVars: TemplateVars = {
    demonstrations,
    history: history.parts.join(format.turn_separator),
    target_turn: turnText(target),
    target_text: targetTurn.text,
    target_speaker: names[target],
    label_list: labelList(format, corpus, unified, input.labelSet),
    speaker_list: Array.from({ length: speakerCount }, (_, i) => `Speaker_${i}`).join(', '),
  };
  const answerVars: TemplateVars = {
    speaker: names[target],
    ...labelVars(format, corpus, targetTurn.labels, unified),
    ...levelVars(format, targetTurn.scores),
  };
  const prompt = fill(format.template, templateVars, `${format.name}.template`, maxChars, 'format.template')!;
  const answer = format.answer ? fill(format.answer, answerVars, `${format.name}.answer`) : null;
  return { prompt, target: answer };
}
