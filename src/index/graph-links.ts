import { closeSync, openSync, readSync } from 'node:fs';

/** The bottom layer of a saved hnswlib graph: each row's neighbours, by row id (the label each point was added with). */
export interface GraphLinks {
  /** Neighbour slots per row. */
  width: number;
  /** Row-major rows x width row ids; a row's first counts[row] are its neighbours. */
  neighbours: Int32Array;
  counts: Uint16Array;
}

/** Elements read per block while scanning the file. */
const BLOCK = 2048;

/**
 * Reads the bottom layer's links of an hnswlib index file (hnswlib's saveIndex layout: a 96-byte header, then
 * per element its link count and maxM0 neighbour slots, its vector and its label), block by block, so that memory
 * holds the links (4 bytes a slot) and one block of the file, not the file's copy of every vector.
 */
export function readGraphLinks(file: string, rows: number, openFd?: number): GraphLinks {
  // An index reads the file it opened (openFd, held since: held-file.ts); closed here only if opened here.
  const fd = openFd ?? openSync(file, 'r');
  try {
    const header = Buffer.alloc(96);
    if (readSync(fd, header, 0, 96, 0) !== 96) throw new Error(`${file}: too short for an hnswlib index`);
    const offsetLevel0 = Number(header.readBigUInt64LE(0));
    const count = Number(header.readBigUInt64LE(16));
    const perElement = Number(header.readBigUInt64LE(24));
    const labelOffset = Number(header.readBigUInt64LE(32));
    const maxM0 = Number(header.readBigUInt64LE(64));
    if (count !== rows || offsetLevel0 !== 0 || perElement < 4 + 4 * maxM0 + 8 || labelOffset + 8 > perElement) {
      throw new Error(`${file}: unexpected hnswlib layout (${count} elements, ${perElement} bytes each, ${maxM0} links)`);
    }
    // Internal ids (the order points went in) to row ids, then each row's links translated.
    const internal = new Int32Array(count * maxM0);
    const internalCounts = new Uint16Array(count);
    const label = new Int32Array(count);
    const block = Buffer.alloc(BLOCK * perElement);
    for (let start = 0; start < count; start += BLOCK) {
      const n = Math.min(BLOCK, count - start);
      const bytes = n * perElement;
      if (readSync(fd, block, 0, bytes, 96 + start * perElement) !== bytes) throw new Error(`${file}: truncated`);
      for (let e = 0; e < n; e++) {
        const at = e * perElement;
        const links = Math.min(block.readUInt16LE(at), maxM0);
        internalCounts[start + e] = links;
        for (let j = 0; j < links; j++) internal[(start + e) * maxM0 + j] = block.readUInt32LE(at + 4 + 4 * j);
        label[start + e] = Number(block.readBigUInt64LE(at + labelOffset));
      }
    }
    const neighbours = new Int32Array(rows * maxM0);
    const counts = new Uint16Array(rows);
    for (let i = 0; i < count; i++) {
      const row = label[i];
      if (row < 0 || row >= rows) throw new Error(`${file}: label ${row} out of range`);
      counts[row] = internalCounts[i];
      for (let j = 0; j < internalCounts[i]; j++) neighbours[row * maxM0 + j] = label[internal[i * maxM0 + j]];
    }
    return { width: maxM0, neighbours, counts };
  } finally {
    if (openFd === undefined) closeSync(fd);
  }
}
