# Prototype used to choose among retrieval variants before implementing one in TypeScript (numpy only).
# Usage: python3 scripts/prototypes/knn_variants.py <train index> <dev index> <test index>
#   (index directories built by erc-demos build, e.g. MELD train/dev/test, default embedder, no projection)
# Prints kNN weighted-F1 and precision@10 for: raw USE-lite, LDA at several shrinkages, LDA on [utterance,
# previous turns] concatenations. Results are recorded in docs/RETRIEVAL-QUALITY.md.
import numpy as np, sqlite3, json, sys
def load(d):
    m=json.load(open(f'{d}/manifest.json')); n=m['count']; dim=m['embedder']['dim']
    X=np.fromfile(f'{d}/vectors.f32',dtype=np.float32).reshape(n,dim)
    rows=sqlite3.connect(f'{d}/meta.sqlite').execute('select id,labels,dialogue,turn from utterances order by id').fetchall()
    y=np.array([json.loads(r[1])[0] for r in rows]); return X.astype(np.float64),y,[r[2] for r in rows],[r[3] for r in rows]
Xtr,ytr,dtr,ttr=load(sys.argv[1]); Xdv,ydv,_,_=load(sys.argv[2]); Xte,yte,_,_=load(sys.argv[3])
labels=sorted(set(ytr))
def wf1(g,p):
    f=0
    for l in labels:
        tp=np.sum((g==l)&(p==l)); pp=np.sum(p==l); gg=np.sum(g==l)
        pr=tp/pp if pp else 0; rc=tp/gg if gg else 0; f1=2*pr*rc/(pr+rc) if pr+rc else 0
        f+=f1*gg
    return 100*f/len(g)
def knn(Ztr,Zq,k=10):
    Ztr=Ztr/np.linalg.norm(Ztr,axis=1,keepdims=True); Zq=Zq/np.linalg.norm(Zq,axis=1,keepdims=True)
    S=Zq@Ztr.T; idx=np.argsort(-S,axis=1)[:,:k]
    preds=[]; prec=0
    for i in range(len(Zq)):
        w={}
        for j in idx[i]: w[ytr[j]]=w.get(ytr[j],0)+S[i,j]
        preds.append(max(w,key=w.get))
    P=np.array(preds)
    return P, idx
def evalz(name, f):
    for nm,X,y in [('dev',Xdv,ydv),('test',Xte,yte)]:
        P,idx=knn(f(Xtr),f(X)); prec=np.mean(ytr[idx]==y[:,None])*100
        print(f'{name:30s} {nm} wf1 {wf1(y,P):.2f} p@10 {prec:.2f}')
evalz('baseline', lambda X: X)
mu=Xtr.mean(0)
def lda(shrink, dout=None):
    Sw=np.zeros((Xtr.shape[1],)*2); Sb=np.zeros_like(Sw)
    for l in labels:
        Xl=Xtr[ytr==l]; ml=Xl.mean(0); Sw+=(Xl-ml).T@(Xl-ml); Sb+=len(Xl)*np.outer(ml-mu,ml-mu)
    Sw/=len(Xtr); Sb/=len(Xtr)
    Sw=(1-shrink)*Sw+shrink*np.trace(Sw)/len(Sw)*np.eye(len(Sw))
    ev,evec=np.linalg.eigh(Sw); Wh=evec@np.diag(ev**-0.5)@evec.T
    M=Wh@Sb@Wh; e2,v2=np.linalg.eigh(M); order=np.argsort(-e2)
    W=Wh@v2[:,order[:dout or len(labels)-1]]
    return lambda X:(X-mu)@W
for s in [0.01,0.1,0.3]:
    evalz(f'lda shrink {s}', lda(s))
# whitening-then-LDA with more dims scaled
print('--- context')
def ctx(X, dl, tl, w, decay=1.0):
    pos={(d,t):i for i,(d,t) in enumerate(zip(dl,tl))}
    parts=[X]
    for j in range(1,w+1):
        P=np.zeros_like(X)
        for i,(d,t) in enumerate(zip(dl,tl)):
            if (d,t-j) in pos: P[i]=X[pos[(d,t-j)]]*decay**j
        parts.append(P)
    return np.hstack(parts)
_,_,ddv,tdv=load(sys.argv[2]); _,_,dte,tte=load(sys.argv[3])
Xtr0,Xdv0,Xte0=Xtr,Xdv,Xte
for w in [1,2,3]:
    Xtr=ctx(Xtr0,dtr,ttr,w); Xdv=ctx(Xdv0,ddv,tdv,w); Xte=ctx(Xte0,dte,tte,w); mu=Xtr.mean(0)
    for s in [0.1,0.3]:
        evalz(f'ctx{w} lda shrink {s}', lda(s))
