"""Attribute inference on the shared updates: can the server tell a client's gender?

Threat model. Attacker: the honest-but-curious server (or anyone who sees the updates in the
clear). It sees every update a client sends, every round (here a count sketch of the flattened
update, see ``server_app.CountSketch``), and knows the gender of some clients (``known``; e.g.
users who filled in a profile). It trains a classifier on the known clients' updates, labelled
with their gender, and predicts the gender of every other client (``targets``) from theirs. The
targets' labels are never used in training; they only score the attack. The roles are then
swapped, so every client is a target once. Reported: UAR per update, and per client (the majority
vote over all its rounds' updates), for each classifier, and the worst case over classifiers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from privemo.evaluators.base import fit_predict
from privemo.evaluators.threat import ThreatModel, declare
from privemo.metrics import uar

UPDATES = declare("federated.updates", ThreatModel(
    "the server's gender attack", "attack", "the server, honest but curious", "every client's update in every round "
    "(a count sketch of the flattened update)", "the updates of the half of the clients whose gender it knows "
    "(gender-balanced), predicting the other half's; then the roles swap (the targets' labels only score it)",
    "its UAR per update and per client, the worst case over its classifiers (chance 0.5)"))


def known_target_splits(clients: list[dict[str, Any]], known_fraction: float, seed: int
                        ) -> list[tuple[list[int], list[int]]]:
    """Gender-balanced (known, target) partition ids, and the swapped pair; clients of unknown
    gender take no part."""
    rng = np.random.default_rng(seed)
    known: list[int] = []
    target: list[int] = []
    for g in ("m", "f"):
        pids = [c["partition_id"] for c in clients if c["gender"] == g]
        pids = [pids[i] for i in rng.permutation(len(pids))]
        n_known = int(round(known_fraction * len(pids)))
        known += pids[:n_known]
        target += pids[n_known:]
    return [(sorted(known), sorted(target)), (sorted(target), sorted(known))]


def gender_attack(sketch: np.ndarray, client: np.ndarray, clients: list[dict[str, Any]],
                  classifiers: list[str], known_fraction: float = 0.5, seed: int = 0) -> dict[str, Any]:
    """Run the attack on recorded updates (``sketch`` rows, ``client`` their partition ids)."""
    gender = {c["partition_id"]: c["gender"] for c in clients}
    out: dict[str, Any] = {"per_classifier": {}}
    splits = known_target_splits(clients, known_fraction, seed)
    for kind in classifiers:
        y_true, y_pred, c_true, c_pred = [], [], [], []
        for known, target in splits:
            tr = np.isin(client, known)
            te = np.isin(client, target)
            if not tr.any() or not te.any():
                continue
            ytr = np.array([gender[int(c)] for c in client[tr]])
            pred = fit_predict(kind, sketch[tr], ytr, sketch[te], seed=seed).astype(str)
            truth = np.array([gender[int(c)] for c in client[te]])  # used only to score
            y_true += list(truth)
            y_pred += list(pred)
            for pid in target:
                mine = pred[client[te] == pid]
                if len(mine):
                    votes = {g: int(np.sum(mine == g)) for g in ("m", "f")}
                    c_true.append(gender[pid])
                    c_pred.append(max(votes, key=lambda g: (votes[g], g)))
        if y_true:
            out["per_classifier"][kind] = {"update_uar": uar(y_true, y_pred), "client_uar": uar(c_true, c_pred),
                                           "n_updates": len(y_true), "n_clients": len(c_true)}
    if out["per_classifier"]:
        best = max(out["per_classifier"].items(), key=lambda kv: kv[1]["update_uar"])
        out["update_uar"] = best[1]["update_uar"]
        out["client_uar"] = max(v["client_uar"] for v in out["per_classifier"].values())
        out["worst_case_classifier"] = best[0]
    return out
