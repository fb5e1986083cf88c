"""Training slices: purge/embargo boundaries, Parquet + manifest + export job on both backends, tamper checks,
and the leakage test (shuffled labels: every model falls to chance)."""

import json

import numpy as np
import pytest

from thunderline.export import SliceError, SliceSpec, build_slice, open_slice, walk_forward
from thunderline.hashing import content_hash

from .learning_data import TENANT, planted_windows, store_planted


def test_walk_forward_purges_and_embargoes_around_each_boundary_by_hand():
    # 40 windows, one every 10 µs; each label reads the next 25 µs (ends 25 µs after the window starts)
    t = np.arange(40) * 10
    label_end = t + 25
    roles, folds = walk_forward(t, label_end, n_folds=3, embargo_us=20)
    assert [f.boundary_us for f in folds] == [100, 200, 300]  # 4 blocks of 10 rows
    r0 = roles[0]
    assert list(r0[:8]) == ["train"] * 8  # t = 0..70: labels end by 95 ≤ 100
    assert list(r0[8:10]) == ["purged"] * 2  # t = 80, 90: labels end at 105, 115 > 100 → would read validation
    assert list(r0[10:12]) == ["embargoed"] * 2  # t = 100, 110 < 100 + 20
    assert list(r0[12:20]) == ["validation"] * 8 and set(r0[20:]) == {""}  # later blocks are not in fold 0
    last = roles[2]
    assert list(last[28:30]) == ["purged"] * 2 and list(last[30:32]) == ["embargoed"] * 2
    assert list(last[32:]) == ["validation"] * 8 and list(last[:28]) == ["train"] * 28
    for r, f in zip(roles, folds):  # no training label interval reaches past its boundary
        assert (label_end[r == "train"] <= f.boundary_us).all()
        assert (t[r == "validation"] >= f.boundary_us + 20).all()
    with pytest.raises(SliceError, match="too few"):
        walk_forward(t[:5], label_end[:5], 3, 0)


@pytest.fixture(scope="module")
def planted():
    return planted_windows(n_symbols=3, n_windows=500, seed=3)


def test_slice_parquet_manifest_and_export_job(warehouse, planted, tmp_path):
    months = store_planted(warehouse, planted)
    spec = SliceSpec("planted", months=tuple(months), horizons=(1, 4), n_folds=3, embargo_windows=2)
    with warehouse.session(TENANT) as s:
        result = build_slice(s, spec, tmp_path)
        jobs = s.select("export_jobs")
    m = result.manifest
    assert m["schema_version"] == "slice-1" and m["spec"] == spec.to_json() and m["rows"] == len(planted) == 1500
    assert sum(f["rows"] for f in m["files"]) == 1500 and len(m["files"]) == 3  # one file per symbol
    assert m["manifest_sha256"] == content_hash({k: v for k, v in m.items() if k != "manifest_sha256"})
    [job] = jobs
    assert job["status"] == "complete" and job["rows"] == 1500 and job["path"] == str(result.path)
    assert job["manifest"]["manifest_sha256"] == result.manifest_sha256 and job["slice_name"] == "planted"
    data = open_slice(result.path)
    assert data.slice_id == spec.slice_id(TENANT) and len(data.frame) == 1500
    for f in m["folds"]:
        counts = data.frame[f["column"]].value_counts().to_dict()
        assert {k: v for k, v in counts.items() if k} == {k: v for k, v in f["counts"].items() if v and k != "after"}
        # purge + embargo: the h4 labels (4 windows = 1 s) of training rows end before the boundary
        train = data.frame[data.frame[f["column"]] == "train"]
        assert (train["label_realised_at_us_h4"].dropna() <= f["boundary_us"]).all()
        assert f["counts"]["purged"] >= 4 and f["counts"]["embargoed"] == 2 * 3  # 2 windows × 3 symbols
    assert set(data.frame["label_h1"].dropna()) == {"buy", "sell", "hold"}
    assert data.frame["provenance_json"].map(json.loads).map(lambda p: p["planted_seed"]).eq(3).all()
    # rebuilding the same spec is byte-identical (deterministic ids, rows and files)
    with warehouse.session(TENANT) as s:
        again = build_slice(s, spec, tmp_path)
        assert s.count("export_jobs") == 1
    assert again.manifest == m
    # a tampered file is refused, naming it
    victim = result.path / m["files"][0]["path"]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(SliceError, match="sha256"):
        open_slice(result.path)


def test_shuffled_labels_bring_every_model_to_chance(planted_slice):
    """If a slice leaked the label into the features, a model would still beat chance after the labels are
    shuffled; here the true labels are learnable and the shuffled ones are not, for every model."""
    from thunderline.experts import DEFAULT_EXPERT_SPECS
    from thunderline.experts.training import evaluate_expert, train_expert
    from thunderline.nas.space import fit_architecture

    data = planted_slice
    train, val = data.split()
    rng = np.random.default_rng(11)
    specs = list(DEFAULT_EXPERT_SPECS)
    learned = {}
    for spec in specs:
        y_val = val[f"label_h{spec.horizon}"]
        known = y_val.notna()
        chance = float(y_val[known].value_counts(normalize=True).max())  # always answering the majority class
        true = train_expert(spec, train, train, seed=0)
        learned[spec.name] = evaluate_expert(true, val, val).accuracy - chance
        shuffled = train.copy()
        col = f"label_h{spec.horizon}"
        shuffled[col] = rng.permutation(shuffled[col].to_numpy())
        model = train_expert(spec, shuffled, shuffled, seed=0)
        m = evaluate_expert(model, val, val)
        assert m.accuracy <= chance + 0.05, (spec.name, m.accuracy, chance)
        # (not the IC: a model fitted to shuffled labels is a random projection of features that do predict
        # returns, so its score can correlate with them by chance, with either sign; the labels it learned cannot)
    for arch in ({"kind": "mlp", "hidden": [16], "activation": "relu", "dropout": 0.1, "learning_rate": 3e-3,
                  "l2": 1e-4, "batch_size": 128, "max_epochs": 15, "patience": 3},
                 {"kind": "gbm", "max_iter": 60, "max_depth": 3, "learning_rate": 0.1, "l2_regularization": 1.0,
                  "min_samples_leaf": 20}):
        from thunderline.experts.catalog import MOMENTUM_FEATURES

        cols = list(MOMENTUM_FEATURES)
        tr = train[train["label_h1"].notna()]
        y = rng.permutation(tr["label_h1"].to_numpy())
        fit = fit_architecture(arch, tr[cols].to_numpy(), y, val[cols].to_numpy(),
                               val["label_h1"].to_numpy(dtype=object),
                               val["fwd_return_h1"].to_numpy(), seed=0)
        pred = fit.estimator.predict(val.loc[val["label_h1"].notna(), cols].to_numpy())
        chance = float(val["label_h1"].value_counts(normalize=True).max())
        assert np.mean(pred == val.loc[val["label_h1"].notna(), "label_h1"].to_numpy()) <= chance + 0.05, arch["kind"]
    # the unshuffled labels are learnable: the slice carries signal, so "chance" above is not a broken pipeline
    assert max(learned.values()) > 0.05, learned


def test_a_slice_reads_windows_of_two_feature_schema_versions_through_the_forward_path(warehouse, tmp_path,
                                                                                        monkeypatch):
    from feature_schema_support import CURRENT, NEXT, STRICT_NEXT, as_version

    from thunderline import feature_schemas
    from thunderline.feature_schemas import FeatureSchemaError

    monkeypatch.setattr(feature_schemas, "CHAIN", STRICT_NEXT)
    import dataclasses

    old = [dataclasses.replace(w, features={**w.features, "spread": w.features["spread_bps"] * 1e-2})
           for w in planted_windows(n_symbols=2, n_windows=300, seed=4)]
    cut = sorted(w.window_start_us for w in old)[len(old) // 2]
    mixed = [w for w in old if w.window_start_us < cut] + as_version([w for w in old if w.window_start_us >= cut],
                                                                     STRICT_NEXT, NEXT, CURRENT)
    months = store_planted(warehouse, mixed)
    truth = {(w.key, w.window_start_us): w.features for w in old}
    feats = ("spread_bps", "mid_return", "ofi_1")
    with warehouse.session(TENANT) as s:
        as_old = open_slice(build_slice(s, SliceSpec("as-fs1", tuple(months), horizons=(1,), features=feats,
                                                     feature_schema_version=CURRENT), tmp_path).path)
        as_new = open_slice(build_slice(s, SliceSpec("as-fs2", tuple(months), horizons=(1,),
                                                     features=("spread_bps_mid", "mid_return"),
                                                     feature_schema_version=NEXT), tmp_path).path)
        with pytest.raises(FeatureSchemaError, match=rf"'microburst'.*{NEXT}"):
            build_slice(s, SliceSpec("refused", tuple(months), horizons=(1,), features=("microburst",),
                                     feature_schema_version=CURRENT), tmp_path)
    frame = as_old.frame
    assert set(frame["feature_schema_version"]) == {CURRENT, NEXT} and len(frame) == len(old)
    assert as_old.manifest["feature_schema_version"] == CURRENT and as_new.manifest["feature_schema_version"] == NEXT
    for row in frame.itertuples():  # every window, old or new, reads its original values under the current version's names
        want = truth[(row.symbol, row.window_start_us)]
        assert (row.spread_bps, row.mid_return, row.ofi_1) == (want["spread_bps"], want["mid_return"], want["ofi_1"])
    np.testing.assert_array_equal(as_new.frame["spread_bps_mid"].to_numpy(), frame["spread_bps"].to_numpy())
