"""Federated learning (nunez): task functions, partitions, Flower aggregation, the update attack."""

from __future__ import annotations

import numpy as np
import pytest

from privemo.attacks import updates as attack_mod
from privemo.attacks.updates import gender_attack, known_target_splits
from privemo.corpora import Manifest
from privemo.errors import ConfigError
from privemo.experiments.federated import parse_federated_config
from privemo.experiments.federated.data import CorpusData, local_split, write_fold
from privemo.learners.federated.task import (
    Partition,
    build_model,
    dp_epsilon,
    evaluate,
    get_weights,
    set_weights,
    train,
    uar_of_confusion,
)

CFG = {"name": "t", "corpus": {"type": "synthetic"}, "features": {"type": "egemaps"}, "folds": 3}


def _corpus(n_speakers: int = 9, per: int = 12, d: int = 6, seed: int = 0) -> CorpusData:
    rng = np.random.default_rng(seed)
    rows, X, y = [], [], []
    for s in range(n_speakers):
        for i in range(per):
            lab = i % 3
            rows.append({"item_id": f"s{s}_{i}", "path": f"/x/s{s}_{i}.wav", "media": "audio", "corpus": "t",
                         "speaker": f"s{s}", "gender": "mf"[s % 2], "emotion": ["angry", "happy", "sad"][lab]})
            X.append(rng.normal(size=d) + 2.0 * np.eye(d)[lab])
            y.append(lab)
    man = Manifest(rows)
    return CorpusData(man, np.array(X, dtype=np.float32), np.array(y), ["angry", "happy", "sad"],
                      man.df["speaker"].to_numpy(), man.df["gender"].to_numpy())


def test_config_variants_override_and_validate():
    cfg = parse_federated_config({**CFG, "rounds": 7, "variants": [
        {"name": "a"}, {"name": "b", "strategy": {"type": "fedprox", "mu": 0.1}, "dp": {"noise_multiplier": 1.5}}]})
    a, b = cfg.variant("a"), cfg.variant("b")
    assert a.rounds == b.rounds == 7 and a.strategy == {"type": "fedavg"} and a.dp is None
    assert b.strategy == {"type": "fedprox", "proximal_mu": 0.1} and b.dp.noise_multiplier == 1.5
    with pytest.raises(ConfigError, match="variants.0"):
        parse_federated_config({**CFG, "variants": [{"name": "x", "strategy": {"type": "fedsgd"}}]})
    with pytest.raises(ConfigError, match="unknown feature"):
        parse_federated_config({**CFG, "features": {"type": "nope"}})
    with pytest.raises(ConfigError, match="unique"):
        parse_federated_config({**CFG, "variants": [{"name": "x"}, {"name": "x"}]})


def test_any_flower_strategy_by_name_with_its_own_parameters_checked_at_parse_time():
    from privemo.registry import names

    assert {"fedavg", "fedprox", "fedadam", "fedyogi", "fedavgm", "krum", "fedtrimmedavg", "qfedavg"} <= set(names("strategy"))
    cfg = parse_federated_config({**CFG, "strategy": {"type": "fedadam", "eta": 0.003}, "variants": [
        {"name": "adam"}, {"name": "adam_tau", "strategy": {"tau": 0.01}},
        {"name": "yogi", "strategy": {"type": "fedyogi", "eta": 0.02}},
        {"name": "krum", "strategy": {"type": "krum", "num_malicious_nodes": 1}}]})
    assert cfg.variant("adam").strategy == {"type": "fedadam", "eta": 0.003, "eta_l": 0.1, "beta_1": 0.9,
                                            "beta_2": 0.99, "tau": 0.001}  # Flower's defaults filled in
    assert cfg.variant("adam_tau").strategy["tau"] == 0.01 and cfg.variant("adam_tau").strategy["eta"] == 0.003
    assert cfg.variant("yogi").strategy["eta"] == 0.02 and "eta" not in cfg.variant("krum").strategy  # no leak
    for bad, key in (({"type": "fedprox", "proximal_mux": 0.1}, "proximal_mux"), ({"type": "krum", "num_malicious_nodes": "x"},
                     "num_malicious_nodes"), ({"type": "fedavg", "fraction_train": 0.5}, "fraction_train")):
        with pytest.raises(ConfigError, match=rf"variants\.0.*{key}"):
            parse_federated_config({**CFG, "variants": [{"name": "x", "strategy": bad}]})


def test_make_strategy_builds_the_named_flower_class_with_its_parameters():
    import flwr.serverapp.strategy as fs

    from privemo.learners.federated.server_app import make_strategy

    cfg = parse_federated_config({**CFG, "variants": [
        {"name": "m", "strategy": {"type": "fedavgm", "server_momentum": 0.5}},
        {"name": "p", "strategy": {"type": "fedprox", "mu": 0.2}}]})
    m = make_strategy(cfg.variant("m").model_dump(mode="json"), n_clients=4)
    assert isinstance(m, fs.FedAvgM) and m.server_momentum == 0.5 and m.min_available_nodes == 4
    p = make_strategy(cfg.variant("p").model_dump(mode="json"), n_clients=4)
    assert isinstance(p, fs.FedProx) and p.proximal_mu == 0.2


def test_a_changed_strategy_parameter_is_refused_on_resume_or_redone_with_force(tmp_path, monkeypatch):
    """The federation units record their resolved settings: a strategy parameter changed under the
    same variant name is refused naming the key; --force redoes exactly that variant's units."""
    import privemo.experiments.federated.runner as runner_mod

    calls: list[str] = []

    def fake_unit(self, key, data):
        calls.append(key)
        return [{"unit": key, "mu": self.cfg.variant("prox").strategy["proximal_mu"]}]

    monkeypatch.setattr(runner_mod, "load_corpus_data", lambda *a, **k: _corpus())
    monkeypatch.setattr(runner_mod.FederatedExperiment, "_rows", fake_unit)

    def cfg(mu):
        return parse_federated_config({**CFG, "loso": False, "variants": [
            {"name": "avg"}, {"name": "prox", "strategy": {"type": "fedprox", "proximal_mu": mu}}]})

    out = tmp_path / "run"
    runner_mod.FederatedExperiment(cfg(0.1), out).run()
    assert len(calls) == 9
    calls.clear()
    with pytest.raises(ConfigError, match=r"unit prox__fold0 .*settings\.strategy\.proximal_mu changed"):
        runner_mod.FederatedExperiment(cfg(0.2), out).run()
    assert calls == []
    rows = runner_mod.FederatedExperiment(cfg(0.2), out).run(force=True)
    assert sorted(calls) == ["prox__fold0", "prox__fold1", "prox__fold2"]
    assert {r["mu"] for r in rows if r["unit"].startswith("prox")} == {0.2}
    calls.clear()
    runner_mod.FederatedExperiment(cfg(0.2), out).run()
    assert calls == []


def test_partitions_are_disjoint_by_speaker_and_hold_out_the_test_speakers(tmp_path):
    data = _corpus()
    cfg = parse_federated_config(CFG)
    seen: dict[str, set] = {}
    for fold in range(3):
        fd = write_fold(data, cfg, fold, tmp_path / f"fold{fold}")
        client_speakers = [c["speaker"] for c in fd.clients]
        assert len(set(client_speakers)) == len(client_speakers) == 6
        assert not set(client_speakers) & set(fd.test_speakers)
        server = Partition.load(fd.dir / "server.npz")
        assert len(server.y) == 12 * len(fd.test_speakers)
        for c in fd.clients:
            p = Partition.load(fd.dir / f"client{c['partition_id']:03d}.npz")
            assert p.speaker == c["speaker"] and len(p.y) == 12  # exactly that speaker's items
            assert 0 < p.train.sum() < len(p.y)
        for s in fd.test_speakers:
            seen.setdefault(s, set()).add(fold)
    assert sorted(seen) == sorted(set(data.speaker)) and all(len(v) == 1 for v in seen.values())


def test_local_split_keeps_every_class_on_both_sides():
    y = np.repeat([0, 1, 2], 10)
    train = local_split(y, 0.3, seed=1)
    for c in range(3):
        assert (~train[y == c]).sum() == 3 and train[y == c].sum() == 7


def test_partition_load_names_the_bad_file(tmp_path):
    bad = tmp_path / "client000.npz"
    bad.write_text("not a zip")
    with pytest.raises(ConfigError, match="client000.npz"):
        Partition.load(bad)
    with pytest.raises(ConfigError, match="not found"):
        Partition.load(tmp_path / "nope.npz")


def test_train_learns_and_fedprox_pulls_towards_the_start():
    data = _corpus()
    model = build_model(6, 3, {"type": "mlp", "hidden": [16], "dropout": 0.0}, seed=0)
    before = evaluate(model, data.X, data.y, 3)["uar"]
    train(model, data.X, data.y, epochs=20, lr=0.01, seed=0)
    assert evaluate(model, data.X, data.y, 3)["uar"] > max(before, 0.8)
    start = get_weights(build_model(6, 3, {"type": "logreg"}, seed=0))
    dist = {}
    for mu in (0.0, 10.0):
        m = build_model(6, 3, {"type": "logreg"}, seed=0)
        set_weights(m, start)
        train(m, data.X, data.y, epochs=5, lr=0.05, seed=0, proximal_mu=mu)
        dist[mu] = sum(float(np.sum((a - b) ** 2)) for a, b in zip(get_weights(m), start, strict=True))
    assert dist[10.0] < dist[0.0]


def test_dp_training_reports_epsilon_that_grows_with_steps():
    data = _corpus()
    model = build_model(6, 3, {"type": "logreg"}, seed=0)
    dp = {"noise_multiplier": 1.0, "max_grad_norm": 1.0, "delta": 1e-5}
    out = train(model, data.X, data.y, epochs=1, batch_size=16, seed=0, dp=dp)
    assert out["epsilon"] > 0 and out["steps"] > 0
    again = train(model, data.X, data.y, epochs=1, batch_size=16, seed=1, dp=dp, dp_steps_before=int(out["steps"]))
    assert again["epsilon"] > out["epsilon"]
    assert dp_epsilon({"noise_multiplier": 4.0}, 0.1, 100) < dp_epsilon({"noise_multiplier": 1.0}, 0.1, 100)
    assert not hasattr(model, "_forward_hooks") or len(model._forward_hooks) == 0  # Opacus's hooks are gone


def test_uar_of_confusion_matches_direct_uar():
    from privemo.metrics import confusion, uar

    rng = np.random.default_rng(0)
    yt, yp = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    assert uar_of_confusion(confusion(yt, yp, [0, 1, 2, 3])) == pytest.approx(uar(yt, yp))


def _message(arrays, n, pid):
    from flwr.app import ArrayRecord, Message, MessageType, MetricRecord, RecordDict

    out = Message(content=RecordDict({"arrays": ArrayRecord([np.zeros_like(a) for a in arrays]),
                                      "metrics": MetricRecord({"num-examples": 1})}),
                  dst_node_id=pid + 1, message_type=MessageType.TRAIN)
    return Message(content=RecordDict({"arrays": ArrayRecord(arrays),
                                       "metrics": MetricRecord({"num-examples": n, "train-loss": 0.5,
                                                                "partition-id": pid})}), reply_to=out)


def test_fedavg_of_two_known_updates_is_their_weighted_mean_and_the_server_records_them(monkeypatch):
    from flwr.supercore.task_identity import TaskIdentity

    from privemo.learners.federated.server_app import UpdateRecorder, make_strategy

    for key in ("_run_id", "_task_id", "_node_id"):  # messages are made inside a Flower run: pretend one
        monkeypatch.setattr(TaskIdentity, key, 1)

    settings = parse_federated_config(CFG).variant("fedavg").model_dump(mode="json")
    a = [np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32), np.array([1.0, -1.0], dtype=np.float32)]
    b = [np.array([[5.0, 6.0], [7.0, 8.0]], dtype=np.float32), np.array([3.0, 3.0], dtype=np.float32)]
    rec = UpdateRecorder(6, 16, seed=0)
    rec.global_weights = [np.zeros((2, 2), np.float32), np.zeros(2, np.float32)]
    strategy = make_strategy(settings, n_clients=2, recorder=rec)
    arrays, metrics = strategy.aggregate_train(1, [_message(a, 10, 0), _message(b, 30, 1)])
    got = arrays.to_numpy_ndarrays()
    for g, x, z in zip(got, a, b, strict=True):
        np.testing.assert_allclose(g, (10 * x + 30 * z) / 40, rtol=1e-6)
    assert metrics["train-loss"] == pytest.approx(0.5) and metrics["clients"] == 2
    assert rec.clients == [0, 1] and rec.rounds == [1, 1]
    flat_a = np.concatenate([x.ravel() for x in a])
    np.testing.assert_allclose(rec.sketches[0], rec.sketch(flat_a), rtol=1e-6)


def test_count_sketch_keeps_inner_products_on_average():
    from privemo.learners.federated.server_app import CountSketch

    rng = np.random.default_rng(0)
    u, v = rng.normal(size=5000), rng.normal(size=5000)
    v = 0.7 * u + 0.3 * v
    est = [float(CountSketch(5000, 512, seed=s)(u) @ CountSketch(5000, 512, seed=s)(v)) for s in range(20)]
    assert np.mean(est) == pytest.approx(float(u @ v), rel=0.1)


def test_attack_trains_only_on_known_clients_and_finds_a_real_signal(monkeypatch):
    clients = [{"partition_id": i, "gender": "mf"[i % 2]} for i in range(12)]
    rng = np.random.default_rng(0)
    client = np.repeat(np.arange(12), 5)
    sign = np.array([1.0 if clients[c]["gender"] == "m" else -1.0 for c in client])
    sketch = rng.normal(size=(60, 8)) + 1.5 * sign[:, None]
    calls = []
    real = attack_mod.fit_predict

    def spy(kind, Xtr, ytr, Xte, seed=0):
        calls.append((Xtr.copy(), ytr.copy(), Xte.copy()))
        return real(kind, Xtr, ytr, Xte, seed=seed)

    monkeypatch.setattr(attack_mod, "fit_predict", spy)
    res = gender_attack(sketch, client, clients, ["logreg"], 0.5, seed=0)
    assert res["update_uar"] > 0.9 and res["client_uar"] == 1.0
    for (known, target), (Xtr, ytr, Xte) in zip(known_target_splits(clients, 0.5, 0), calls, strict=True):
        assert not set(known) & set(target) and set(known) | set(target) == set(range(12))
        rows = np.isin(client, known)
        np.testing.assert_array_equal(Xtr, sketch[rows])  # only known clients' rows, with their labels
        assert list(ytr) == [clients[c]["gender"] for c in client[rows]]
        np.testing.assert_array_equal(Xte, sketch[np.isin(client, target)])


def test_attack_on_noise_is_at_chance():
    clients = [{"partition_id": i, "gender": "mf"[i % 2]} for i in range(16)]
    rng = np.random.default_rng(1)
    client = np.repeat(np.arange(16), 10)
    res = gender_attack(rng.normal(size=(160, 8)), client, clients, ["logreg"], 0.5, seed=0)
    assert 0.3 < res["update_uar"] < 0.7


def test_packaged_federated_configs_parse():
    from pathlib import Path

    from privemo.experiments.federated import load_federated_config

    folder = Path(__file__).resolve().parents[2] / "configs" / "federated"
    files = sorted(folder.glob("*.yaml"))
    assert {f.stem for f in files} >= {"demo", "ravdess", "ravdess_global", "crema_d"}
    for f in files:
        cfg = load_federated_config(f)
        assert all(cfg.variant(v["name"]) for v in cfg.variants)
