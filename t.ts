import { DemoIndex } from './src/index/open.js';
import { fitLda, project } from './src/embed/projection.js';
const idx = await DemoIndex.open('indexes/meld-train-use-lite');
let t = performance.now();
const vs = idx.rows.map(r => Float32Array.from(idx.vector(r.id)));
const p = fitLda(vs, idx.rows.map(r => r.labels[0]), 0.1);
console.log('fit s', (performance.now()-t)/1000, p.dimOut);
