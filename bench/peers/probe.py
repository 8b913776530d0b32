#!/usr/bin/python3
"""Reference linear probe for `npm run bench:accuracy` (bench/accuracy.ts): the textbook
scikit-learn baseline on a fixed feature matrix, to compare Graft's default training against.

Run with Debian's interpreter and packages:
    apt-get install -y --no-install-recommends python3-numpy python3-sklearn python3-threadpoolctl
    /usr/bin/python3 bench/peers/probe.py --train DIR/train.json --test DIR/test.json

Feature file format (written by bench/accuracy.ts, one pair of files per matrix):
    <name>.bin   the matrix: float32, little-endian, row-major (C order), rows x cols, nothing else
                 (file size = 4 * rows * cols bytes).
    <name>.json  the sidecar:
                 {
                   "format": "graft-features-v1",
                   "data": "<name>.bin",          # the .bin, relative to the sidecar's folder
                   "dtype": "float32",            # always float32 little-endian
                   "shape": [rows, cols],
                   "labels": [int, ...],          # rows entries, each an index into "classes"
                   "classes": ["name", ...],      # class names; train and test must list the same
                   "paths": ["...", ...]          # optional: the image behind each row
                 }
    Pass either file (.json or .bin) of each pair; the other is found beside it.

What it does:
    1. StandardScaler fitted on the training rows only (inside each CV fold: on that fold's
       training part only), applied to held-out / test rows.
    2. Multinomial LogisticRegression(solver='lbfgs', max_iter=5000); its L2 strength C chosen
       by StratifiedKFold cross-validation (shuffled, random_state=--seed) over
       np.logspace(-4, 4, 17), by mean fold accuracy (ties: the smaller C). Folds =
       min(5, smallest class count); when a class has a single training image there is no CV:
       C = 1.0 and the output says so ("note").
    3. Refit on all training rows with the chosen C; accuracy on the test rows.

Output: one JSON line on stdout:
    {"testAccuracy", "cvAccuracy", "cvSd", "C", "folds", "seconds", "threads", ...}
    cvAccuracy / cvSd: mean and (population) SD of fold accuracies at the chosen C (null without
    CV); seconds: wall time of CV + refit + test scoring (not imports or file reading); threads:
    the BLAS/OpenMP thread pools as threadpoolctl reports them (limited to the machine's cores),
    or the *_NUM_THREADS variables set when threadpoolctl is missing. OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE are recorded and left as they are: on some processors this workplace sets
    them because older OpenBLAS builds compute wrong results there; they slow numpy somewhat,
    which only affects "seconds".
"""
import argparse
import json
import os
import sys
import time
import warnings

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

try:
    import threadpoolctl  # noqa: F401
    HAVE_TPC = True
except ImportError:
    HAVE_TPC = False
    # Without threadpoolctl the pools read these when numpy / scipy first load.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = str(CORES)

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

C_GRID = np.logspace(-4, 4, 17)


def load(path):
    """(X float32 [rows, cols], y int64 [rows], classes, sidecar) from a .json or .bin path."""
    stem, ext = os.path.splitext(path)
    side = path if ext == ".json" else stem + ".json"
    with open(side, encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("dtype", "float32") != "float32":
        sys.exit(f"{side}: dtype must be float32, got {meta.get('dtype')}")
    rows, cols = (int(v) for v in meta["shape"])
    data = os.path.join(os.path.dirname(os.path.abspath(side)), meta.get("data", os.path.basename(stem) + ".bin"))
    X = np.fromfile(data, dtype="<f4")
    if X.size != rows * cols:
        sys.exit(f"{data}: {X.size} float32 values, sidecar shape {rows}x{cols} needs {rows * cols}")
    y = np.asarray(meta["labels"], dtype=np.int64)
    if y.shape != (rows,):
        sys.exit(f"{side}: {y.size} labels for {rows} rows")
    classes = list(meta["classes"])
    if y.size and (y.min() < 0 or y.max() >= len(classes)):
        sys.exit(f"{side}: labels must index classes (0..{len(classes) - 1})")
    return X.reshape(rows, cols).astype(np.float64), y, classes, meta


def make_lr(C, seed):
    kw = dict(C=C, solver="lbfgs", max_iter=5000, random_state=seed)
    # Multinomial is lbfgs' only multi-class mode from scikit-learn 1.5 on (the argument is
    # deprecated there); before that, ask for it.
    if tuple(int(p) for p in sklearn.__version__.split(".")[:2] if p.isdigit()) < (1, 5):
        kw["multi_class"] = "multinomial"
    return LogisticRegression(**kw)


def fit_predict(Xtr, ytr, Xte, C, seed):
    sc = StandardScaler().fit(Xtr)
    lr = make_lr(C, seed).fit(sc.transform(Xtr), ytr)
    return lr.predict(sc.transform(Xte))


def thread_info():
    info = {"cores": CORES, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"), "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    if HAVE_TPC:
        from threadpoolctl import threadpool_info
        info["method"] = "threadpoolctl"
        info["pools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture", "threading_layer") if p.get(k) is not None}
            for p in threadpool_info()
        ]
    else:
        info["method"] = "env"
        info["env"] = {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")}
    return info


def run(args):
    Xtr, ytr, ctr, _ = load(args.train)
    Xte, yte, cte, _ = load(args.test)
    if ctr != cte:
        sys.exit(f"train and test list different classes: {ctr} vs {cte}")
    if Xtr.shape[1] != Xte.shape[1]:
        sys.exit(f"train has {Xtr.shape[1]} columns, test {Xte.shape[1]}")
    present = np.unique(ytr)
    if present.size < 2:
        sys.exit("the training rows hold fewer than 2 classes")
    smallest = int(np.bincount(ytr)[present].min())
    folds = min(args.folds, smallest)
    out = {}
    n_warn = 0
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if folds < 2:
            C, cv_acc, cv_sd, folds = 1.0, None, None, 0
            out["note"] = f"a class has {smallest} training image(s): no cross-validation, C=1.0"
        else:
            skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=args.seed)
            splits = list(skf.split(Xtr, ytr))
            best = None
            for C in C_GRID:
                accs = [float(np.mean(fit_predict(Xtr[a], ytr[a], Xtr[b], C, args.seed) == ytr[b])) for a, b in splits]
                m = float(np.mean(accs))
                if best is None or m > best[1] + 1e-12:
                    best = (float(C), m, float(np.std(accs)))
            C, cv_acc, cv_sd = best
        pred = fit_predict(Xtr, ytr, Xte, C, args.seed)
        n_warn = sum(1 for w in caught if issubclass(w.category, ConvergenceWarning))
    seconds = time.perf_counter() - t0
    res = {
        "testAccuracy": float(np.mean(pred == yte)),
        "cvAccuracy": cv_acc,
        "cvSd": cv_sd,
        "C": C,
        "folds": folds,
        "seconds": round(seconds, 3),
        "threads": thread_info(),
        "train": list(Xtr.shape),
        "test": list(Xte.shape),
        "convergenceWarnings": n_warn,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
    }
    res.update(out)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="training matrix (.json sidecar or .bin)")
    ap.add_argument("--test", required=True, help="test matrix (.json sidecar or .bin)")
    ap.add_argument("--folds", type=int, default=5, help="most CV folds (default 5)")
    ap.add_argument("--seed", type=int, default=0, help="fold shuffling and solver seed (default 0)")
    args = ap.parse_args()
    if HAVE_TPC:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=CORES):
            res = run(args)
    else:
        res = run(args)
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
