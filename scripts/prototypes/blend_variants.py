# Prototype (numpy): LDA blended with the raw embedding, cosine = b*cos(raw) + (1-b)*cos(lda), for several b.
# Usage: python3 scripts/prototypes/blend_variants.py <train index> <dev index> <test index> (raw, --projection none)
import numpy as np, sys
src=open(__import__('os').path.join(__import__('os').path.dirname(__file__), 'knn_variants.py')).read()
exec(src.split("for s in [0.01,0.1,0.3]:")[0])
g=lda(0.1)
def unit(Z): return Z/np.linalg.norm(Z,axis=1,keepdims=True)
for a in [0.0,0.2,0.4,0.6]:
    f=lambda X: np.hstack([np.sqrt(a)*unit(X), np.sqrt(1-a)*unit(g(X))])
    evalz(f'blend alpha {a}', f)
