"""Reference for the emotion-aware space, written from its definition with numpy/scipy (not from the TypeScript).

Fisher LDA with shrinkage: within-class scatter over n, shrunk towards s * trace/d * I; directions are the top C-1
generalized eigenvectors of (between, within) as scipy.linalg.eigh returns them (u^T W u = 1); a vector's LDA part
is (x - mean) U, L2-normalised; a blended vector is [sqrt(b) x, sqrt(1-b) lda(x)].

Reads one JSON object on stdin:
  {"mode": "cosines", "vectors", "labels", "shrinkage"}           -> LDA-part cosine matrix of all rows
  {"mode": "search", "vectors", "labels", "folds", "dialogues", "shrinkage", "blend", "k", "targets", "cross_fit"}
      -> for each target row: its k nearest rows (own dialogue excluded), [[id, score], ...], searched in the
         space fitted without the target's fold (cross_fit true) or on all rows (false)
"""
import json
import sys

import numpy as np
from scipy.linalg import eigh


def fit(x, labels, shrinkage):
    classes = sorted(set(labels))
    n, d = x.shape
    mean = x.mean(axis=0)
    within = np.zeros((d, d))
    between = np.zeros((d, d))
    for c in classes:
        xc = x[[i for i, l in enumerate(labels) if l == c]]
        mc = xc.mean(axis=0)
        centred = xc - mc
        within += centred.T @ centred
        diff = (mc - mean)[:, None]
        between += (len(xc) / n) * (diff @ diff.T)
    within /= n
    within = (1 - shrinkage) * within + shrinkage * np.trace(within) / d * np.eye(d)
    values, vectors = eigh(between, within)
    order = np.argsort(values)[::-1][: len(classes) - 1]
    return mean, vectors[:, order]


def lda_part(x, mean, u):
    y = (x - mean) @ u
    return y / np.linalg.norm(y, axis=1, keepdims=True)


def main():
    q = json.load(sys.stdin)
    x = np.asarray(q["vectors"], dtype=np.float64)
    labels = q["labels"]
    if q["mode"] == "cosines":
        mean, u = fit(x, labels, q["shrinkage"])
        y = lda_part(x, mean, u)
        json.dump((y @ y.T).tolist(), sys.stdout)
        return
    folds = np.asarray(q["folds"])
    dialogues = q["dialogues"]
    b = q["blend"]
    spaces = {}
    out = {}
    for t in q["targets"]:
        key = int(folds[t]) if q["cross_fit"] else -1
        if key not in spaces:
            fitted_on = folds != key
            mean, u = fit(x[fitted_on], [l for l, keep in zip(labels, fitted_on) if keep], q["shrinkage"])
            lda = lda_part(x, mean, u)
            spaces[key] = np.hstack([np.sqrt(b) * x, np.sqrt(1 - b) * lda]) if b > 0 else lda
        v = spaces[key]
        scores = v @ v[t]
        allowed = [i for i in range(len(x)) if dialogues[i] != dialogues[t]]
        best = sorted(allowed, key=lambda i: -scores[i])[: q["k"]]
        out[str(t)] = [[i, float(scores[i])] for i in best]
    json.dump(out, sys.stdout)


main()
