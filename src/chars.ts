/**
 * Characters as every documented limit counts them: Unicode code points, so an emoji or a rare CJK character
 * (two UTF-16 units in a JavaScript string) is one character, as it is to the person typing it. A lone surrogate
 * counts as one.
 */
export function charCount(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count -= 1;
        i += 1;
      }
    }
  }
  return count;
}
