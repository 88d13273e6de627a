import { describe, expect, it } from 'vitest';
import { FORMATS, PromptFormatSchema, type PromptFormat } from '../src/prompt/formats.js';
import { renderPrompt, type PromptDemo, type PromptTurn } from '../src/prompt/render.js';
import { level } from '../src/prompt/wassa.js';
import { leakageSafeSelection } from '../src/retrieve/leakage.js';

// Golden strings below are typed by hand from ../shared/docs/PROMPT-FORMATS.md, not printed by the renderer.
const format = (name: string): PromptFormat => FORMATS.get(name)!;

const MELD_DIALOGUE: PromptTurn[] = [
  { speaker: 'Ross', text: 'Hi.', labels: ['neutral'] },
  { speaker: 'Rachel', text: 'Oh my God!', labels: ['surprise'] },
  { speaker: 'Ross', text: 'I got the job.', labels: ['joy'] },
];
const MELD_DEMOS: PromptDemo[] = [
  { text: 'Great news!', labels: ['joy'], corpus: 'meld' },
  { text: 'No way.', labels: ['surprise'], corpus: 'meld' },
];
const MELD_LIST = 'neutral, surprise, fear, sad, joyful, disgust, angry';

describe('instructerc (main task)', () => {
  it('target with history and demonstrations, default wording', () => {
    const out = renderPrompt(format('instructerc'), { corpus: 'meld', turns: MELD_DIALOGUE, target: 2, demonstrations: MELD_DEMOS });
    expect(out.prompt).toBe(
      'Now you are expert of sentiment and emotional analysis. Here are some examples: Speaker_0:"Great news!" -> joyful; Speaker_0:"No way." -> surprise. ' +
        "The following conversation noted between '### ###' involves several speakers. " +
        '### \t Speaker_0:"Hi."\t Speaker_1:"Oh my God!"\t Speaker_0:"I got the job." ### ' +
        `Please select the emotional label of < Speaker_0:"I got the job."> from <${MELD_LIST}>:`,
    );
    expect(out.target).toBe('joyful');
  });

  it('first turn, no demonstrations', () => {
    const out = renderPrompt(format('instructerc'), { corpus: 'meld', turns: MELD_DIALOGUE, target: 0, demonstrations: [] });
    expect(out.prompt).toBe(
      "Now you are expert of sentiment and emotional analysis. The following conversation noted between '### ###' involves several speakers. " +
        `### \t Speaker_0:"Hi." ### Please select the emotional label of < Speaker_0:"Hi."> from <${MELD_LIST}>:`,
    );
    expect(out.target).toBe('neutral');
  });

  it('window 1 keeps turns t-1..t; speaker ids still follow first appearance in the whole dialogue', () => {
    const out = renderPrompt(format('instructerc'), { corpus: 'meld', turns: MELD_DIALOGUE, target: 2, demonstrations: [], window: 1 });
    expect(out.prompt).toContain('### \t Speaker_1:"Oh my God!"\t Speaker_0:"I got the job." ###');
    expect(out.prompt).not.toContain('Hi.');
  });

  it('window larger than the dialogue is the whole history', () => {
    const out = renderPrompt(format('instructerc'), { corpus: 'meld', turns: MELD_DIALOGUE, target: 1, demonstrations: [], window: 50 });
    expect(out.prompt).toContain('### \t Speaker_0:"Hi."\t Speaker_1:"Oh my God!" ### Please select the emotional label of < Speaker_1:"Oh my God!"> from <');
  });

  it('EmoryNLP and IEMOCAP label lists; IEMOCAP M/F are Speaker_0/Speaker_1 whoever speaks first', () => {
    const emory = renderPrompt(format('instructerc'), { corpus: 'emorynlp', turns: [{ speaker: 'Joey Tribbiani', text: 'How you doin?', labels: ['Joyful'] }], target: 0, demonstrations: [] });
    expect(emory.prompt.endsWith('from <Joyful, Mad, Peaceful, Neutral, Sad, Powerful, Scared>:')).toBe(true);
    expect(emory.target).toBe('Joyful');
    const iemocap = renderPrompt(format('instructerc'), {
      corpus: 'iemocap', turns: [{ speaker: 'F', text: 'Where were you?', labels: ['fru'] }, { speaker: 'M', text: 'Out.', labels: ['neu'] }], target: 1, demonstrations: [],
    });
    expect(iemocap.prompt).toBe(
      "Now you are expert of sentiment and emotional analysis. The following conversation noted between '### ###' involves several speakers. " +
        '### \t Speaker_1:"Where were you?"\t Speaker_0:"Out." ### Please select the emotional label of < Speaker_0:"Out."> from <happy, sad, neutral, angry, excited, frustrated>:',
    );
    expect(iemocap.target).toBe('neutral');
  });

  it('unified labels: list and answer in the 9-label space', () => {
    const out = renderPrompt(format('instructerc'), { corpus: 'meld', turns: MELD_DIALOGUE, target: 1, demonstrations: MELD_DEMOS, unified: true });
    expect(out.prompt).toContain('Speaker_0:"No way." -> powerful.');
    expect(out.prompt.endsWith('from <joyful, sad, neutral, mad, excited, powerful, fear, peaceful, disgust>:')).toBe(true);
    expect(out.target).toBe('powerful');
  });

  it('the demonstration wording is a template', () => {
    const custom = { ...format('instructerc'), demo: { block: 'Examples:\n{examples}\n', item: '[{label}] {text}', separator: '\n' } };
    const out = renderPrompt(custom, { corpus: 'meld', turns: MELD_DIALOGUE, target: 0, demonstrations: MELD_DEMOS });
    expect(out.prompt.startsWith('Now you are expert of sentiment and emotional analysis. Examples:\n[joyful] Great news!\n[surprise] No way.\nThe following')).toBe(true);
  });
});

describe('instructerc auxiliary tasks', () => {
  it('emotion impact: history without the target, then the question about the next speaker', () => {
    const out = renderPrompt(format('instructerc-impact'), { corpus: 'meld', turns: MELD_DIALOGUE, target: 2, demonstrations: [] });
    expect(out.prompt).toBe(
      "Now you are expert of sentiment and emotional analysis. The following conversation noted between '### ###' involves several speakers. " +
        '### \t Speaker_0:"Hi."\t Speaker_1:"Oh my God!" ###Based on the above historical utterances, next utterance is spoken by <Speaker_0>, ' +
        `please predict the emotion states of <Speaker_0> from <${MELD_LIST}>:`,
    );
    expect(out.target).toBe('joyful');
    expect(() => renderPrompt(format('instructerc-impact'), { corpus: 'meld', turns: MELD_DIALOGUE, target: 0, demonstrations: [] })).toThrow(/target: format instructerc-impact needs a target turn >= 1/);
  });

  it('speaker identification', () => {
    const out = renderPrompt(format('instructerc-speaker'), { corpus: 'meld', turns: MELD_DIALOGUE, target: 1, demonstrations: [] });
    expect(out.prompt).toBe(
      'Now you are expert of sentiment and emotional analysis. Please select the Speaker label of the utterance <Speaker: Oh my God!> from ' +
        '<Speaker_0, Speaker_1, Speaker_2, Speaker_3, Speaker_4, Speaker_5, Speaker_6, Speaker_7, Speaker_8>:',
    );
    expect(out.target).toBe('Speaker_1');
    const iemocap = renderPrompt(format('instructerc-speaker'), { corpus: 'iemocap', turns: [{ speaker: 'F', text: 'Hi.', labels: ['neu'] }], target: 0, demonstrations: [] });
    expect(iemocap.prompt.endsWith('from <Speaker_0, Speaker_1>:')).toBe(true);
    expect(iemocap.target).toBe('Speaker_1');
  });
});

describe('zh-erc', () => {
  it('letters by first appearance, full-width colon, window of 10 turns', () => {
    const out = renderPrompt(format('zh-erc'), { corpus: 'meld', turns: MELD_DIALOGUE, target: 2, demonstrations: [] });
    expect(out.prompt).toBe(
      "现在，你是一名情感和情绪分析专家。下面这段标记在'### ###'间的对话涉及多个说话者。### <A：Hi.> <B：Oh my God!> <A：I got the job.> ### " +
        '请从 <Disgust, Anger, Sad, Happy, Neutral, Surprise, Fear> 中选择 <I got the job.> 的情感标签，无需分析，直接给出结果即可。',
    );
    expect(out.target).toBe('Happy');
    const long: PromptTurn[] = Array.from({ length: 12 }, (_, i) => ({ speaker: i % 3 === 0 ? 'X' : 'Y', text: `t${i}`, labels: ['neutral'] }));
    const windowed = renderPrompt(format('zh-erc'), { corpus: 'meld', turns: long, target: 11, demonstrations: [] });
    expect(windowed.prompt).toContain('### <B：t2> <A：t3> <B：t4> <B：t5> <A：t6> <B：t7> <B：t8> <A：t9> <B：t10> <B：t11> ###');
  });
});

describe('WASSA 2024', () => {
  const head = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n\n';
  it('track 2 with one turn of history; levels from thirds', () => {
    const turns: PromptTurn[] = [
      { speaker: 'Person 1', text: 'what did you think about this article' },
      { speaker: 'Person 2', text: "It's sad.", scores: { Emotion: 3, EmotionalPolarity: 2, Empathy: 4.3333, SelfDisclosure: 2 } },
    ];
    const out = renderPrompt(format('wassa-t2'), { corpus: 'wassa', turns, target: 1, demonstrations: [], window: 1 });
    expect(out.prompt).toBe(
      `${head}This is an Empathy and Emotion Prediction task. You are asked to predict the perceived empathy, emotion polarity, emotion intensity, and self disclosure status at the speech-turn-level in a conversation. You need to make predictions based on the last statement from speaker 1 (and the previous conversation content if provided). The emotion intensity and empathy level are divided into 16 levels, while emotion polarity and self-disclosure status are divided into 10 levels. All annotations are in the range [0, level-1], and must be made using integers only.\n\nSpeaker2: what did you think about this article\nSpeaker1: It's sad.\n\n### Response:\n\n`,
    );
    expect(out.target).toBe('The annotation result of the final statement of the Speaker1 is as follows:\nThe emotion intensity is 9, the empathy level is 13, the emotion polarity is 6, and the self disclosure status is 3.');
    const noHistory = renderPrompt(format('wassa-t2'), { corpus: 'wassa', turns, target: 1, demonstrations: [] });
    expect(noHistory.prompt).toContain('integers only.\n\nSpeaker1: It\'s sad.\n\n### Response:\n\n');
    const unannotated = renderPrompt(format('wassa-t2'), { corpus: 'wassa', turns: [{ ...turns[1], scores: { ...turns[1].scores!, SelfDisclosure: null } }], target: 0, demonstrations: [] });
    expect(unannotated.target).toBeNull();
  });

  it('track 3 essay and track 1 conversation', () => {
    const t3 = renderPrompt(format('wassa-t3'), { corpus: 'wassa', turns: [{ speaker: 'p019', text: 'How sad.', scores: { person_empathy: 3.857142857142857, person_distress: 1 } }], target: 0, demonstrations: [] });
    expect(t3.prompt).toBe(`${head}This is an Empathy Prediction task. You are asked to predict both the empathy concern and personal distress at the essay level. You need to make predictions based on all of the speaker's utterances, also known as the person's essay. The empathy level and distress level are divided into 43 levels. All annotations are in the range [0, level-1], and must be made using integers only.\n\nPerson's Essay: How sad.\n\n### Response:\n\n`);
    expect(t3.target).toBe('The annotation result is as follows:\nThe empathy level is 20, and the distress level is 0.');
    const t1 = renderPrompt(format('wassa-t1'), {
      corpus: 'wassa', turns: [{ speaker: 'a', text: 'Hello.', scores: { perceived_empathy: 6 } }, { speaker: 'b', text: 'Hi!' }], target: 0, demonstrations: [],
    });
    expect(t1.prompt).toBe(`${head}This is an Empathy Prediction task in Conversations. You are asked to predict the perceived empathy level of a specific individual at the conversation level. You need to make your prediction on the conversation history between speaker 1 and others to predict speaker 1's preceived empathy level. The empathy levels are divided into 9 levels. All annotations are in the range [0, level-1], and must be made using integers only.\n\nSpeaker1: Hello.\nSpeaker2: Hi!\n\n### Response:\n\n`);
    expect(t1.target).toBe("The annotation result is as follows:\nThe Speaker1's preceived empathy level to this conversation is 5.");
  });

  it('level mapping: the examples of the spec, clamping, missing values', () => {
    expect(level(4.3333, 0, 3, 16)).toBe('13');
    expect(level(3.857, 1, 7, 43)).toBe('20');
    expect(level(5.1667, 1, 7, 43)).toBe('29');
    expect(level(9, 0, 3, 16)).toBe('15');
    expect(level(null, 0, 3, 16)).toBeNull();
  });
});

describe('semeval-ec (multi-label)', () => {
  it('demonstrations and answer carry label sets; an empty set is "none"', () => {
    const demos: PromptDemo[] = [{ text: 'So happy today', labels: ['joy', 'optimism'], corpus: 'semeval-ec' }, { text: 'meh', labels: [], corpus: 'semeval-ec' }];
    const out = renderPrompt(format('semeval-ec'), { corpus: 'semeval-ec', turns: [{ speaker: 'tweet', text: 'I hate mondays', labels: ['anger', 'disgust'] }], target: 0, demonstrations: demos });
    expect(out.prompt).toBe(
      'Now you are expert of sentiment and emotional analysis. Here are some examples: "So happy today" -> joy, optimism; "meh" -> none. ' +
        'Please select all emotion labels of the tweet <I hate mondays> from <anger, anticipation, disgust, fear, joy, love, optimism, pessimism, sadness, surprise, trust>, or answer none:',
    );
    expect(out.target).toBe('anger, disgust');
    expect(renderPrompt(format('semeval-ec'), { corpus: 'semeval-ec', turns: [{ speaker: 'tweet', text: 'ok', labels: [] }], target: 0, demonstrations: [] }).target).toBe('none');
  });
});

describe('user formats and leakage rules', () => {
  it('a format object with the same placeholders; an unknown placeholder is named', () => {
    const mine = PromptFormatSchema.parse({ name: 'mine', template: '{demonstrations}[{history}] -> ?', answer: '{label}', turn: '{speaker}: {text}', turn_separator: ' | ', window: 1 });
    const out = renderPrompt(mine, { corpus: 'meld', turns: MELD_DIALOGUE, target: 2, demonstrations: [MELD_DEMOS[0]] });
    expect(out.prompt).toBe('Here are some examples: Speaker_0:"Great news!" -> joy. [Rachel: Oh my God! | Ross: I got the job.] -> ?');
    expect(out.target).toBe('joy');
    // Refused when the format is read, naming the field...
    expect(() => PromptFormatSchema.parse({ name: 'typo', template: '{histroy}' })).toThrow(/unknown placeholder \{histroy\}/);
    expect(PromptFormatSchema.safeParse({ name: 'leak', template: '{history} {label}' }).error?.issues[0]).toMatchObject({ path: ['template'], message: expect.stringMatching(/unknown placeholder \{label\}/) });
    // ...and again when rendered (a format assembled without the schema, e.g. the CLI's --demo-item over a built-in).
    const typo = { ...PromptFormatSchema.parse({ name: 'typo', template: '{history}' }), template: '{histroy}' };
    expect(() => renderPrompt(typo, { corpus: 'meld', turns: MELD_DIALOGUE, target: 0, demonstrations: [] })).toThrow(/typo\.template: unknown placeholder \{histroy\}/);
    const leak = { ...typo, template: '{history} {label}' };
    expect(() => renderPrompt(leak, { corpus: 'meld', turns: MELD_DIALOGUE, target: 0, demonstrations: [] })).toThrow(/unknown placeholder \{label\}/);
  });

  it('never the own dialogue or row; never an evaluation split unless asked', () => {
    const sel = leakageSafeSelection({ corpus: 'meld', splits: ['train', 'dev'] }, { corpus: 'meld', dialogue: 'train/3', rowId: 17 }, { k: 4, strategy: 'topk' });
    expect(sel).toEqual({ k: 4, strategy: 'topk', splits: ['train'], excludeDialogues: ['train/3'], excludeIds: [17] });
    expect(leakageSafeSelection({ corpus: 'meld', splits: ['train', 'dev'] }, { corpus: 'meld' }, { k: 4, strategy: 'topk', allowEvalSplits: true })).toEqual({ k: 4, strategy: 'topk' });
    expect(() => leakageSafeSelection({ corpus: 'meld', splits: ['test'] }, { corpus: 'meld' }, { k: 4, strategy: 'topk' })).toThrow(/index: holds only evaluation splits \(test\)/);
    // Another corpus' dialogue ids mean nothing in this index.
    expect(leakageSafeSelection({ corpus: 'meld', splits: ['train'] }, { corpus: 'emorynlp', dialogue: 'train/s1e1c1' }, { k: 2, strategy: 'topk' })).toEqual({ k: 2, strategy: 'topk' });
  });
});
