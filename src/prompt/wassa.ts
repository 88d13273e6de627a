/**
 * WASSA 2024 scores -> the integer levels the baseline LLM is trained to answer (docs/PROMPT-FORMATS.md):
 * - track 2: annotator means on a grid of thirds. Emotion, Empathy (0..5) -> round(x * 3), 16 levels 0..15;
 *   EmotionalPolarity (0..2.67) -> round(x * 3), 0..8 of 10 levels; SelfDisclosure (1..4) -> round((x - 1) * 3), 0..9.
 * - track 3: person_empathy, person_distress (1..7) on a grid of sevenths -> round((x - 1) * 7), 43 levels 0..42.
 * - track 1: perceived empathy, an integer 1..9 -> x - 1, 9 levels 0..8.
 * A score off its grid (dev has a few means of six annotators, e.g. 5.1667) goes to the nearest level, clamped.
 */
export function level(score: number | null | undefined, offset: number, steps: number, levels: number): string | null {
  if (score === null || score === undefined || !Number.isFinite(score)) return null;
  return String(Math.min(levels - 1, Math.max(0, Math.round((score - offset) * steps))));
}

type Scores = Readonly<Record<string, number | null>> | undefined;

export function track1Levels(scores: Scores): Record<string, string | null> {
  return { empathy_level: level(scores?.perceived_empathy, 1, 1, 9) };
}

export function track2Levels(scores: Scores): Record<string, string | null> {
  return {
    emotion_level: level(scores?.Emotion, 0, 3, 16),
    empathy_level: level(scores?.Empathy, 0, 3, 16),
    polarity_level: level(scores?.EmotionalPolarity, 0, 3, 10),
    self_disclosure_level: level(scores?.SelfDisclosure, 1, 3, 10),
  };
}

export function track3Levels(scores: Scores): Record<string, string | null> {
  return {
    empathy_level: level(scores?.person_empathy, 1, 7, 43),
    distress_level: level(scores?.person_distress, 1, 7, 43),
  };
}
