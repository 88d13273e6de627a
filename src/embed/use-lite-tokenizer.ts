import { EmbeddingsModel } from '@energetic-ai/embeddings';
import type { Vocabulary } from './use-lite-weights.js';

/** The package's tokenizer: the reference this one is tested against (test/tokenizer-linear.test.ts). */
export type PackageTokenizer = EmbeddingsModel['tokenizer'];

/** A node of the package's vocabulary trie: children by symbol, and the piece ending here ([symbols, score, id]). */
interface TrieNode {
  end: boolean;
  children: Record<string, TrieNode>;
  word: [string[], number, number];
}

const SEPARATOR = '\u2581';

/** The package's tokenizer, built from the vocabulary (it comes with the runtime's model class, of which only it is used). */
export function packageTokenizer(vocabulary: Vocabulary): PackageTokenizer {
  return new EmbeddingsModel({ vocabulary, model: undefined as never }).tokenizer;
}

/**
 * USE-lite's sentencepiece (unigram) tokenizer, linear in the text. The package's own (@energetic-ai/embeddings
 * 0.2.0, `Tokenizer.encode`) copies the rest of the text at every position (`symbols.slice(i)` before each trie
 * lookup), so it is quadratic: 20k characters took 1.2 s, 80k over 28 s, a 5 MB utterance never finished. This is
 * the same algorithm over the package's own trie, with the lookup walking the symbols in place (at most the
 * longest piece, 16 symbols) and the lattice relaxed forward: for each end position the candidates are compared
 * in the same order as the package compares them (ascending start), with its tie rule (`>=`, later start wins)
 * and its quirks kept (a score of exactly 0 counts as unset; an unknown symbol is id 0 of length 1; runs of
 * unknown ids merge), so every text tokenizes to the very ids the package gives (tested on the MELD corpus and on
 * random Unicode).
 */
export class UseLiteTokenizer {
  private readonly root: TrieNode;

  constructor(private readonly vocabulary: Vocabulary, trie: PackageTokenizer['trie'] = packageTokenizer(vocabulary).trie) {
    this.root = (trie as unknown as { root: TrieNode }).root;
  }

  encode(input: string): number[] {
    const normalized = input.normalize('NFKC');
    const text = normalized.length > 0 ? SEPARATOR + normalized.replace(/ /g, SEPARATOR) : normalized;
    const symbols = Array.from(text);
    const n = symbols.length;
    const best = new Float64Array(n + 1);
    const words = new Int32Array(n + 1);
    const relax = (start: number, end: number, score: number, id: number) => {
      const total = score + best[start];
      if (best[end] === 0 || total >= best[end]) {
        best[end] = total;
        words[end] = id;
      }
    };
    for (let start = 0; start < n; start++) {
      let node: TrieNode | undefined = this.root.children[symbols[start]];
      let matched = false;
      for (let at = start; at < n && node; at++) {
        if (node.end) {
          relax(start, at + 1, node.word[1], node.word[2]);
          matched = true;
        }
        node = at + 1 < n ? node.children[symbols[at + 1]] : undefined;
      }
      // No piece starts here: the symbol alone, as unknown (id 0, score 0).
      if (!matched) relax(start, start + 1, 0, 0);
    }
    const reversed: number[] = [];
    for (let at = n; at > 0; at -= this.vocabulary[words[at]][0].length) reversed.push(words[at]);
    const merged: number[] = [];
    let previousUnknown = false;
    for (const id of reversed) {
      if (!(previousUnknown && id === 0)) merged.push(id);
      previousUnknown = id === 0;
    }
    return merged.reverse();
  }
}
