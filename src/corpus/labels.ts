import { InputError } from '../errors.js';
import { ownValue } from './own-keys.js';

/**
 * Label sets: each corpus' own names, the names and order InstructERC writes into its prompts, and the 9-label
 * unified Feeling-Wheel space of the paper's Table 3. See docs/LABELS.md for the two cells of Table 3 that
 * contradict the corpora and what we chose.
 */

export const UNIFIED_LABELS = [
  'joyful', 'sad', 'neutral', 'mad', 'excited', 'powerful', 'fear', 'peaceful', 'disgust',
] as const;

export interface LabelScheme {
  /** The corpus' own label names, as its files spell them. */
  own: readonly string[];
  /** InstructERC's label list for this corpus, in the order its prompt writes it (empty where it has none). */
  instructerc: readonly string[];
  /** own name -> InstructERC name. */
  toInstructerc: Readonly<Record<string, string>>;
  /** own name -> unified Feeling-Wheel label (Table 3). */
  toUnified: Readonly<Record<string, string>>;
  multiLabel: boolean;
}

const MELD: LabelScheme = {
  own: ['neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust', 'anger'],
  instructerc: ['neutral', 'surprise', 'fear', 'sad', 'joyful', 'disgust', 'angry'],
  toInstructerc: {
    neutral: 'neutral', surprise: 'surprise', fear: 'fear', sadness: 'sad', joy: 'joyful', disgust: 'disgust',
    anger: 'angry',
  },
  toUnified: {
    neutral: 'neutral', surprise: 'powerful', fear: 'fear', sadness: 'sad', joy: 'joyful', disgust: 'disgust',
    anger: 'mad',
  },
  multiLabel: false,
};

const EMORYNLP: LabelScheme = {
  own: ['Joyful', 'Mad', 'Peaceful', 'Neutral', 'Sad', 'Powerful', 'Scared'],
  instructerc: ['Joyful', 'Mad', 'Peaceful', 'Neutral', 'Sad', 'Powerful', 'Scared'],
  toInstructerc: {
    Joyful: 'Joyful', Mad: 'Mad', Peaceful: 'Peaceful', Neutral: 'Neutral', Sad: 'Sad', Powerful: 'Powerful',
    Scared: 'Scared',
  },
  // Table 3 puts "frustrated" in EmoryNLP's column; EmoryNLP has Scared there, which is fear.
  toUnified: {
    Joyful: 'joyful', Mad: 'mad', Peaceful: 'peaceful', Neutral: 'neutral', Sad: 'sad', Powerful: 'powerful',
    Scared: 'fear',
  },
  multiLabel: false,
};

/** IEMOCAP (brought by the user as JSONL): accepts the full names and the usual 3-letter codes. */
const IEMOCAP: LabelScheme = {
  own: ['happy', 'sad', 'neutral', 'angry', 'excited', 'frustrated'],
  instructerc: ['happy', 'sad', 'neutral', 'angry', 'excited', 'frustrated'],
  toInstructerc: {
    happy: 'happy', sad: 'sad', neutral: 'neutral', angry: 'angry', excited: 'excited', frustrated: 'frustrated',
    hap: 'happy', neu: 'neutral', ang: 'angry', exc: 'excited', fru: 'frustrated',
  },
  // Table 3 puts "scared" in IEMOCAP's column; IEMOCAP's six classes have frustrated there. The Feeling Wheel
  // places frustrated under Mad, so frustrated -> mad.
  toUnified: {
    happy: 'joyful', sad: 'sad', neutral: 'neutral', angry: 'mad', excited: 'excited', frustrated: 'mad',
    hap: 'joyful', neu: 'neutral', ang: 'mad', exc: 'excited', fru: 'mad',
  },
  multiLabel: false,
};

const SEMEVAL_EC: LabelScheme = {
  own: ['anger', 'anticipation', 'disgust', 'fear', 'joy', 'love', 'optimism', 'pessimism', 'sadness', 'surprise',
    'trust'],
  instructerc: [],
  toInstructerc: {},
  toUnified: {
    anger: 'mad', disgust: 'disgust', fear: 'fear', joy: 'joyful', sadness: 'sad', surprise: 'powerful',
    love: 'joyful', optimism: 'joyful', pessimism: 'sad', trust: 'peaceful', anticipation: 'excited',
  },
  multiLabel: true,
};

const SCHEMES: ReadonlyMap<string, LabelScheme> = new Map([
  ['meld', MELD], ['emorynlp', EMORYNLP], ['iemocap', IEMOCAP], ['semeval-ec', SEMEVAL_EC],
  // The built-in sample corpus (data/sample) is labelled with MELD's emotions.
  ['sample', MELD],
]);

/**
 * The label scheme of a known corpus, or undefined for a user corpus whose labels are its own (any name, including
 * `constructor` or `__proto__`, which are names like any other here).
 */
export function labelScheme(corpus: string): LabelScheme | undefined {
  return SCHEMES.get(corpus.toLowerCase());
}

/** A label in InstructERC's spelling where the corpus has one, else unchanged. */
export function toInstructercLabel(corpus: string, label: string): string {
  return ownValue(labelScheme(corpus)?.toInstructerc, label) ?? label;
}

/** A label in the unified 9-label space; throws where the corpus has no mapping for it. */
export function toUnifiedLabel(corpus: string, label: string): string {
  const scheme = labelScheme(corpus);
  if ((UNIFIED_LABELS as readonly string[]).includes(label)) return label;
  const unified = ownValue(scheme?.toUnified, label);
  if (!unified) throw new InputError('unified', `no unified (Feeling-Wheel) label for ${corpus} label "${label}"`);
  return unified;
}
