# Prototype (numpy): a linear probe (softmax regression) on the raw USE-lite vectors: its own weighted-F1, and kNN
# in its logit space. Usage: python3 scripts/prototypes/linear_probe.py <train index> <dev index> <test index>
import numpy as np, sys
exec(open(__import__('os').path.join(__import__('os').path.dirname(__file__), 'knn_variants.py')).read().split("evalz('baseline'")[0])
L={l:i for i,l in enumerate(labels)}
Ytr=np.array([L[l] for l in ytr])
def train_mlp(X, Y, hidden=0, epochs=60, lr=0.5, wd=1e-4, seed=0):
    rng=np.random.default_rng(seed); d=X.shape[1]; C=len(labels)
    if hidden:
        W1=rng.normal(0,1/np.sqrt(d),(d,hidden)); b1=np.zeros(hidden); W2=rng.normal(0,1/np.sqrt(hidden),(hidden,C))
    else: W2=rng.normal(0,0.01,(d,C))
    b2=np.zeros(C)
    for ep in range(epochs):
        perm=rng.permutation(len(X))
        for s in range(0,len(X),128):
            i=perm[s:s+128]; x=X[i]
            h=np.maximum(0,x@W1+b1) if hidden else x
            z=h@W2+b2; z-=z.max(1,keepdims=True); p=np.exp(z); p/=p.sum(1,keepdims=True)
            p[np.arange(len(i)),Y[i]]-=1; g=p/len(i)
            gW2=h.T@g+wd*W2; W2-=lr*gW2; b2-=lr*g.sum(0)
            if hidden:
                gh=g@W2.T*(h>0); W1-=lr*(x.T@gh+wd*W1); b1-=lr*gh.sum(0)
    if hidden: return lambda X: np.maximum(0,X@W1+b1)@W2+b2, lambda X: np.maximum(0,X@W1+b1)
    return lambda X: X@W2+b2, None
f,_=train_mlp(Xtr,Ytr,0)
for nm,X,y in [('dev',Xdv,ydv),('test',Xte,yte)]:
    P=np.array(labels)[f(X).argmax(1)]
    print('linear classifier',nm,'wf1 %.2f'%wf1(y,P))
evalz('logits knn', f)
