/** Indices of `texts` ordered by length, cut into calls of `size`: an embedder that pads pads a call to its longest. */
export function lengthSortedCalls(texts: readonly string[], size: number): number[][] {
  const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length || a - b);
  const calls: number[][] = [];
  for (let i = 0; i < order.length; i += size) calls.push(order.slice(i, i + size));
  return calls;
}
