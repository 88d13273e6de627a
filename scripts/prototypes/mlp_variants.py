# Prototype (numpy): a small MLP trained with softmax cross-entropy on the training labels, kNN in its hidden
# embedding. Usage: python3 scripts/prototypes/mlp_variants.py <train index> <dev index> <test index>
import numpy as np, sys
src=open(__import__('os').path.join(__import__('os').path.dirname(__file__), 'knn_variants.py')).read()
exec(src.split("evalz('baseline'")[0])
L={l:i for i,l in enumerate(labels)}; Ytr=np.array([L[l] for l in ytr])
def unit(Z): return Z/np.linalg.norm(Z,axis=1,keepdims=True)
def train(X,Y,hidden=128,out=32,epochs=30,lr=0.05,wd=1e-4,seed=0,tau=0.1):
    # one hidden layer -> embedding (out) -> softmax classifier on top; kNN in the embedding
    rng=np.random.default_rng(seed); d=X.shape[1]; C=len(labels)
    W1=rng.normal(0,1/np.sqrt(d),(d,hidden)); b1=np.zeros(hidden)
    W2=rng.normal(0,1/np.sqrt(hidden),(hidden,out)); b2=np.zeros(out)
    W3=rng.normal(0,1/np.sqrt(out),(out,C)); b3=np.zeros(C)
    for ep in range(epochs):
        perm=rng.permutation(len(X))
        for s in range(0,len(X),64):
            i=perm[s:s+64]; x=X[i]
            h=np.maximum(0,x@W1+b1); e=h@W2+b2; z=e@W3+b3
            z-=z.max(1,keepdims=True); p=np.exp(z); p/=p.sum(1,keepdims=True); p[np.arange(len(i)),Y[i]]-=1; g=p/len(i)
            gW3=e.T@g; ge=g@W3.T; gW2=h.T@ge; gh=ge@W2.T*(h>0); gW1=x.T@gh
            W3-=lr*(gW3+wd*W3); b3-=lr*g.sum(0); W2-=lr*(gW2+wd*W2); b2-=lr*ge.sum(0); W1-=lr*(gW1+wd*W1); b1-=lr*gh.sum(0)
    return lambda X: np.maximum(0,X@W1+b1)@W2+b2
for hidden,out,ep in [(128,32,20),(256,16,40)]:
    f=train(Xtr,Ytr,hidden,out,ep)
    evalz(f'mlp {hidden}-{out} ep{ep}', f)
