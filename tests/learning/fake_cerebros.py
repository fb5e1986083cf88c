"""A tiny external NAS program for the bridge tests (speaks thunderline.nas/1 on stdin/stdout).

Reads the request, opens the slice's training rows (to show the handshake gives it
everything it needs), and proposes two architectures. ``--crash`` makes it fail the way
a real program does: a traceback on stderr and a non-zero exit. ``--garbage`` prints
something that is not JSON.
"""

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq


def main() -> int:
    req = json.load(sys.stdin)
    if "--crash" in sys.argv:
        print("cerebros: building search graph", file=sys.stderr)
        raise RuntimeError("CUDA out of memory (simulated)")
    if "--garbage" in sys.argv:
        print("search finished! best=0.1")
        return 0
    root = Path(req["slice"]["path"])
    col = req["slice"]["fold_column"]
    rows = sum(int((pq.read_table(root / f["path"], columns=[col]).column(col).to_pylist()).count("train"))
               for f in req["slice"]["manifest"]["files"])
    print(f"cerebros: {rows} training rows for {req['target']['name']}", file=sys.stderr)
    out = {"protocol": req["protocol"], "trials_tried": 7, "candidates": [
        {"architecture": {"kind": "mlp", "hidden": [16, 16], "activation": "tanh", "dropout": 0.1,
                          "learning_rate": 0.003, "max_epochs": 12, "patience": 3},
         "metrics": {"val_ic": 0.12, "train_rows_seen": rows}, "note": "cerebros lattice 2x16"},
        {"architecture": {"kind": "gbm", "max_iter": 40, "max_depth": 2}, "metrics": {"val_ic": 0.05}},
    ][: req["budget"]["max_candidates"]]}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
