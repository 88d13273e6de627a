import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { CorpusFormatError } from '../errors.js';

/**
 * Where the first invalid UTF-8 sequence of `bytes` starts (WHATWG's rules: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequence), or -1 when every byte is valid.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) low = 0xa0; // overlong
      if (b === 0xed) high = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) low = 0x90; // overlong
      if (b === 0xf4) high = 0x8f; // above U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? low : 0x80) || c > (k === 1 ? high : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * A corpus file's text: UTF-8, a leading byte-order mark dropped (editors on Windows write one). Invalid UTF-8 is
 * an error naming the file, the line, the column and the bytes, never a U+FFFD stored in the index: a file in
 * another encoding (Latin-1, Windows-1252) is found before anything is built from it.
 */
export function readCorpusText(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new CorpusFormatError(file, 0, `cannot read file: ${(error as Error).message}`);
  }
  if (!isUtf8(bytes)) {
    const at = firstInvalidUtf8(bytes);
    const lineStart = bytes.lastIndexOf(0x0a, at - 1) + 1;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
    const column = bytes.subarray(lineStart, at).toString('utf8').length + 1;
    const shown = [...bytes.subarray(at, Math.min(at + 4, bytes.length))].map((x) => `0x${x.toString(16).padStart(2, '0')}`).join(' ');
    throw new CorpusFormatError(file, line,
      `invalid UTF-8 at column ${column} (byte offset ${at}: ${shown}); the file must be UTF-8: convert it (e.g. iconv -f windows-1252 -t utf-8) or fix the bytes`);
  }
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Where the first lone surrogate of `text` is (a UTF-16 unit D800-DFFF not in a high-low pair), or -1 when there is
 * none. A JSON escape such as `"\ud800"` decodes to one: it is no character, valid UTF-8 cannot hold it, and SQLite
 * (like any UTF-8 writer) would store U+FFFD in its place.
 */
export function loneSurrogateAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
    else return i;
  }
  return -1;
}

/** Why `text` is not text (a lone surrogate: which and where), or undefined when it is well formed. */
export function notWellFormed(text: string): string | undefined {
  const at = loneSurrogateAt(text);
  if (at < 0) return undefined;
  const unit = text.charCodeAt(at).toString(16).padStart(4, '0');
  return `holds a lone surrogate \\u${unit} at character ${at + 1} (a JSON escape not in a high-low pair, so no character); ` +
    'it is not repaired (it would be stored as U+FFFD): fix the escape, or write the character itself';
}
