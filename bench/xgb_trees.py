#!/usr/bin/python3
"""Train XGBoost 1.7 hist trees on the CSVs bench/trees wrote and print
train time and held-out AUC next to ours (read from ours_<name>.json and
ours_<name>_pred.txt). Run by bench/trees.sh with Debian's /usr/bin/python3.

Settings match bench/trees/main.go: 100 rounds, eta 0.1, loss-guided growth
with 31 leaves and no depth limit, 255 bins, lambda 1, min_child_weight 1e-3,
2 threads, base_score = training mean (like boost_from_average).
Timed: DMatrix construction + xgb.train (ours: gbdt.Train incl. binning),
both as wall time and as process CPU time: the machine is shared, and CPU
time is the steadier measure of work done.
"""
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb
from sklearn.metrics import roc_auc_score


def load(path):
    a = np.loadtxt(path, delimiter=",", skiprows=1)
    return a[:, 1:], a[:, 0]


def main(d):
    print("xgboost", xgb.__version__)
    rows = []
    for name in ("hillstrom", "synth"):
        xtr, ytr = load(os.path.join(d, name + "_train.csv"))
        xte, yte = load(os.path.join(d, name + "_test.csv"))
        params = {
            "objective": "binary:logistic",
            "tree_method": "hist",
            "grow_policy": "lossguide",
            "max_leaves": 31,
            "max_depth": 0,
            "max_bin": 255,
            "eta": 0.1,
            "lambda": 1.0,
            "alpha": 0.0,
            "min_child_weight": 1e-3,
            "nthread": 2,
            "base_score": float(ytr.mean()),
            "verbosity": 0,
        }
        start, cpu0 = time.perf_counter(), time.process_time()
        dtr = xgb.DMatrix(xtr, label=ytr, missing=np.nan, nthread=2)
        bst = xgb.train(params, dtr, num_boost_round=100)
        secs, cpu = time.perf_counter() - start, time.process_time() - cpu0
        xauc = roc_auc_score(yte, bst.predict(xgb.DMatrix(xte, missing=np.nan, nthread=2)))

        with open(os.path.join(d, "ours_" + name + ".json")) as f:
            ours = json.load(f)
        pred = np.loadtxt(os.path.join(d, "ours_" + name + "_pred.txt"))
        oauc = roc_auc_score(yte, pred)
        rows.append((name, len(ytr), xtr.shape[1], ours["train_seconds"], secs,
                     ours["cpu_seconds"], cpu, oauc, xauc))

    print()
    print("wall = elapsed train seconds, cpu = process CPU seconds (all threads); "
          "ratio = ours / xgb")
    print(f"{'dataset':<10} {'rows':>8} {'feat':>4}  {'ours wall':>9} {'xgb wall':>9} {'ratio':>6}  "
          f"{'ours cpu':>8} {'xgb cpu':>8} {'ratio':>6}  {'ours AUC':>8} {'xgb AUC':>8} {'dAUC':>7}")
    for name, n, p, ot, xt, oc, xc, oa, xa in rows:
        print(f"{name:<10} {n:>8} {p:>4}  {ot:>9.3f} {xt:>9.3f} {ot / xt:>6.2f}  "
              f"{oc:>8.3f} {xc:>8.3f} {oc / xc:>6.2f}  {oa:>8.4f} {xa:>8.4f} {oa - xa:>+7.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
