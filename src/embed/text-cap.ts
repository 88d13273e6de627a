import { charCount } from '../chars.js';

/**
 * The first `max` characters (code points) of a text, or the text itself when it is no longer: what an embedder
 * reads of a text (ERC_DEMOS_MAX_EMBED_CHARS). A surrogate pair is never split.
 */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text; // UTF-16 units are at least as many as code points
  let end = 0;
  for (let n = 0; n < max && end < text.length; n++) end += text.codePointAt(end)! > 0xffff ? 2 : 1;
  return text.slice(0, end);
}

/** Whether the embedder reads only part of this text. */
export function overCap(text: string, max: number): boolean {
  return text.length > max && charCount(text) > max;
}
