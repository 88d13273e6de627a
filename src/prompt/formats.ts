import { z } from 'zod';
import { TemplateError } from '../errors.js';
import { parseTemplate, unknownPlaceholders, BRACE_ESCAPES } from './fill.js';
import { track1Levels, track2Levels, track3Levels } from './wassa.js';

const LEVELS = ['none', 'wassa-t1', 'wassa-t2', 'wassa-t3'] as const;

/** The level placeholders each `levels` setting provides (render.ts fills them from wassa.ts). */
const LEVEL_PLACEHOLDERS: Readonly<Record<(typeof LEVELS)[number], readonly string[]>> = {
  none: [],
  'wassa-t1': Object.keys(track1Levels(undefined)),
  'wassa-t2': Object.keys(track2Levels(undefined)),
  'wassa-t3': Object.keys(track3Levels(undefined)),
};

/**
 * The placeholders each templated field may use (render.ts fills exactly these); every other `{...}` is refused when
 * the format is read, naming the field. The answer's placeholders are not the template's, so a template cannot leak
 * the answer.
 */
export function placeholdersOf(field: 'template' | 'answer' | 'turn' | 'demo.block' | 'demo.item', levels: (typeof LEVELS)[number] = 'none'): readonly string[] {
  switch (field) {
    case 'template': return ['demonstrations', 'history', 'target_turn', 'target_text', 'target_speaker', 'label_list', 'speaker_list'];
    case 'answer': return ['speaker', 'label', 'labels', ...LEVEL_PLACEHOLDERS[levels]];
    case 'turn': return ['speaker', 'text'];
    case 'demo.block': return ['examples'];
    case 'demo.item': return ['text', 'label', 'labels', ...LEVEL_PLACEHOLDERS[levels]];
  }
}

/** A template field's placeholders and braces, checked: a zod issue at the field for the first fault. */
function checkTemplate(ctx: z.RefinementCtx, path: (string | number)[], template: string, known: readonly string[]): void {
  try {
    parseTemplate(template);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    ctx.addIssue({ code: 'custom', path, message: error.message });
    return;
  }
  const unknown = unknownPlaceholders(template, known);
  if (unknown.length) {
    ctx.addIssue({
      code: 'custom', path,
      message: `unknown placeholder ${unknown.map((n) => `{${n}}`).join(', ')} (known here: ${known.map((n) => `{${n}}`).join(' ') || 'none'}; ${BRACE_ESCAPES})`,
    });
  }
}

/**
 * A prompt format is plain data: a template with placeholders plus a few switches. The built-in formats below
 * are instances of it, and a user adds one by writing the same object as JSON (erc-demos prompts --format-file,
 * or "format" as an object in POST /prompts). Placeholders: see docs/PROMPTS.md; `{{` and `}}` write literal braces.
 */
export const PromptFormatSchema = z.object({
  name: z.string().min(1),
  /** The whole input. {demonstrations} {history} {target_turn} {target_text} {target_speaker} {label_list} {speaker_list}, level placeholders. */
  template: z.string().min(1),
  /** The expected answer. {label} {labels} {speaker}, level placeholders. Empty: no answer. */
  answer: z.string().default(''),
  /** One history turn: {speaker} {text}. */
  turn: z.string().default('{speaker}: {text}'),
  turn_prefix: z.string().default(''),
  turn_separator: z.string().default('\n'),
  /** Preceding turns in the history (turns max(0, t - window) .. t). */
  window: z.number().int().nonnegative().default(0),
  /** `all`: the whole dialogue whatever the target (conversation-level tasks). */
  history: z.enum(['window', 'all']).default('window'),
  include_target: z.boolean().default(true),
  /** First target turn the format applies to (1 for emotion impact: it needs a history). */
  min_target: z.number().int().nonnegative().default(0),
  /** Which utterance retrieval embeds: the target's, the previous turn's (when the target is to be predicted), or none. */
  query: z.enum(['target', 'previous', 'none']).default('target'),
  speakers: z.enum(['instructerc', 'letters', 'wassa', 'original']).default('original'),
  label_names: z.enum(['instructerc', 'zh', 'own']).default('own'),
  levels: z.enum(LEVELS).default('none'),
  demo: z.object({
    block: z.string().default('Here are some examples: {examples}. '),
    item: z.string().default('Speaker_0:"{text}" -> {label}'),
    separator: z.string().default('; '),
  }).prefault({}),
}).superRefine((format, ctx) => {
  checkTemplate(ctx, ['template'], format.template, placeholdersOf('template'));
  checkTemplate(ctx, ['answer'], format.answer, placeholdersOf('answer', format.levels));
  checkTemplate(ctx, ['turn'], format.turn, placeholdersOf('turn'));
  checkTemplate(ctx, ['demo', 'block'], format.demo.block, placeholdersOf('demo.block'));
  checkTemplate(ctx, ['demo', 'item'], format.demo.item, placeholdersOf('demo.item', format.levels));
});
export type PromptFormat = z.output<typeof PromptFormatSchema>;
export type PromptFormatInput = z.input<typeof PromptFormatSchema>;

const INSTRUCTERC_HEAD = 'Now you are expert of sentiment and emotional analysis. ';
const INSTRUCTERC_CONVERSATION = "The following conversation noted between '### ###' involves several speakers. ### {history} ###";
const ALPACA = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n\n{content}\n\n### Response:\n\n';
const alpaca = (content: string) => ALPACA.replace('{content}', content);

const INSTRUCTERC_TURNS = { turn: ' {speaker}:"{text}"', turn_prefix: '\t', turn_separator: '', speakers: 'instructerc', label_names: 'instructerc' } as const;

const BUILT_IN: PromptFormatInput[] = [
  {
    name: 'instructerc',
    template: `${INSTRUCTERC_HEAD}{demonstrations}${INSTRUCTERC_CONVERSATION} Please select the emotional label of <{target_turn}> from <{label_list}>:`,
    answer: '{label}',
    ...INSTRUCTERC_TURNS,
    window: 20,
  },
  {
    name: 'instructerc-impact',
    template: `${INSTRUCTERC_HEAD}{demonstrations}${INSTRUCTERC_CONVERSATION}Based on the above historical utterances, next utterance is spoken by <{target_speaker}>, please predict the emotion states of <{target_speaker}> from <{label_list}>:`,
    answer: '{label}',
    ...INSTRUCTERC_TURNS,
    window: 20,
    include_target: false,
    min_target: 1,
    query: 'previous',
  },
  {
    name: 'instructerc-speaker',
    template: `${INSTRUCTERC_HEAD}Please select the Speaker label of the utterance <Speaker: {target_text}> from <{speaker_list}>:`,
    answer: '{speaker}',
    ...INSTRUCTERC_TURNS,
    window: 0,
    query: 'none',
  },
  {
    name: 'zh-erc',
    template: "现在，你是一名情感和情绪分析专家。{demonstrations}下面这段标记在'### ###'间的对话涉及多个说话者。### {history} ### 请从 <{label_list}> 中选择 <{target_text}> 的情感标签，无需分析，直接给出结果即可。",
    answer: '{label}',
    turn: '<{speaker}：{text}>',
    turn_separator: ' ',
    window: 9,
    speakers: 'letters',
    label_names: 'zh',
    demo: { block: '以下是一些示例：{examples}。', item: '<{text}>：{label}', separator: '；' },
  },
  {
    name: 'wassa-t1',
    template: alpaca("This is an Empathy Prediction task in Conversations. You are asked to predict the perceived empathy level of a specific individual at the conversation level. You need to make your prediction on the conversation history between speaker 1 and others to predict speaker 1's preceived empathy level. The empathy levels are divided into 9 levels. All annotations are in the range [0, level-1], and must be made using integers only.\n\n{demonstrations}{history}"),
    answer: "The annotation result is as follows:\nThe Speaker1's preceived empathy level to this conversation is {empathy_level}.",
    history: 'all',
    speakers: 'wassa',
    levels: 'wassa-t1',
    query: 'none',
  },
  {
    name: 'wassa-t2',
    template: alpaca('This is an Empathy and Emotion Prediction task. You are asked to predict the perceived empathy, emotion polarity, emotion intensity, and self disclosure status at the speech-turn-level in a conversation. You need to make predictions based on the last statement from speaker 1 (and the previous conversation content if provided). The emotion intensity and empathy level are divided into 16 levels, while emotion polarity and self-disclosure status are divided into 10 levels. All annotations are in the range [0, level-1], and must be made using integers only.\n\n{demonstrations}{history}'),
    answer: 'The annotation result of the final statement of the Speaker1 is as follows:\nThe emotion intensity is {emotion_level}, the empathy level is {empathy_level}, the emotion polarity is {polarity_level}, and the self disclosure status is {self_disclosure_level}.',
    speakers: 'wassa',
    levels: 'wassa-t2',
    demo: {
      block: 'Examples:\n{examples}\n\n',
      item: 'Speaker1: {text} -> emotion intensity {emotion_level}, empathy {empathy_level}, polarity {polarity_level}',
      separator: '\n',
    },
  },
  {
    name: 'wassa-t3',
    template: alpaca("This is an Empathy Prediction task. You are asked to predict both the empathy concern and personal distress at the essay level. You need to make predictions based on all of the speaker's utterances, also known as the person's essay. The empathy level and distress level are divided into 43 levels. All annotations are in the range [0, level-1], and must be made using integers only.\n\n{demonstrations}Person's Essay: {target_text}"),
    answer: 'The annotation result is as follows:\nThe empathy level is {empathy_level}, and the distress level is {distress_level}.',
    levels: 'wassa-t3',
    demo: { block: 'Examples:\n{examples}\n\n', item: "Person's Essay: {text} -> empathy {empathy_level}, distress {distress_level}", separator: '\n' },
  },
  {
    name: 'semeval-ec',
    template: `${INSTRUCTERC_HEAD}{demonstrations}Please select all emotion labels of the tweet <{target_text}> from <{label_list}>, or answer none:`,
    answer: '{labels}',
    demo: { block: 'Here are some examples: {examples}. ', item: '"{text}" -> {labels}', separator: '; ' },
  },
];

export const FORMATS: ReadonlyMap<string, PromptFormat> = new Map(
  BUILT_IN.map((f) => [f.name, PromptFormatSchema.parse(f)]),
);
