import type hnswlib from 'hnswlib-node';

/**
 * Frees an HNSW graph's native memory now, for an index that is closed. hnswlib-node frees it only when V8 collects
 * the JS object, and V8 does not know that the object holds the whole graph (22 MB at MELD train, 2 GB at 1M rows):
 * the graphs of the indexes that SIGHUP reloads replaced piled up, +172 MB over 21 idle reloads of a MELD train index.
 * initIndex deletes the native index it holds and makes an empty one of capacity 1 in its place.
 */
export function releaseGraph(hnsw: hnswlib.HierarchicalNSW): void {
  hnsw.initIndex(1);
}
