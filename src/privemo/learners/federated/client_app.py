"""The Flower ClientApp: a thin adapter around :mod:`privemo.learners.federated.task`.

A client is one speaker (one phone). It reads only its own partition file
(``<data-dir>/client<partition-id>.npz``: the node's ``partition-id`` comes from Flower, the folder
from the node's own ``data-dir`` config where set, else from the server's message), trains the global model on its local training items and returns the
new weights, or evaluates the global model on its local test items and returns the confusion
counts. The same app runs in Flower's simulation engine and on real SuperNodes
(``flower-supernode --node-config "partition-id=3"``).

With DP the client keeps, in its node state, how many DP-SGD steps its data has gone through, so
the epsilon it reports covers every round it took part in.
"""

# Flower's record values are typed as unions of every value kind; the values read here are numbers
# mypy: disable-error-code="arg-type,union-attr"

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from privemo.learners.federated.task import Partition, build_model, evaluate, get_weights, set_weights, train

app = ClientApp()


def _job(msg: Message, context: Context) -> tuple[dict[str, Any], Partition, int]:
    config = msg.content["config"]
    job = json.loads(str(config["privemo-job"]))
    pid = int(context.node_config["partition-id"])
    # a SuperNode on another host reads its partition from its own folder (node config data-dir)
    data_dir = str(context.node_config.get("data-dir") or job["data_dir"])
    part = Partition.load(Path(data_dir) / f"client{pid:03d}.npz")
    return job, part, pid


def _model(job: dict[str, Any], msg: Message) -> Any:
    model = build_model(job["n_in"], job["n_classes"], job["settings"]["model"], job["seed"])
    set_weights(model, msg.content["arrays"].to_numpy_ndarrays())
    return model


@app.train()
def client_train(msg: Message, context: Context) -> Message:
    job, part, pid = _job(msg, context)
    config = msg.content["config"]
    s = job["settings"]
    model = _model(job, msg)
    rnd = int(config["server-round"])
    steps_before = int(context.state["dp"]["steps"]) if "dp" in context.state else 0
    out = train(model, part.X[part.train], part.y[part.train], epochs=s["local_epochs"], batch_size=s["batch_size"],
                lr=s["lr"], optimizer=s["optimizer"], seed=job["seed"] * 1_000_003 + rnd * 1009 + pid,
                proximal_mu=float(config.get("proximal-mu", 0.0)), dp=s.get("dp"), dp_steps_before=steps_before,
                n_classes=job["n_classes"])
    if s.get("dp"):
        context.state["dp"] = ConfigRecord({"steps": steps_before + int(out["steps"])})
    metrics = {"num-examples": int(part.train.sum()), "train-loss": float(out["train_loss"]), "partition-id": pid}
    if "epsilon" in out:
        metrics["epsilon"] = float(out["epsilon"])
    arrays = ArrayRecord(get_weights(model))
    return Message(content=RecordDict({"arrays": arrays, "metrics": MetricRecord(metrics)}), reply_to=msg)


@app.evaluate()
def client_evaluate(msg: Message, context: Context) -> Message:
    job, part, pid = _job(msg, context)
    model = _model(job, msg)
    test = ~part.train
    ev = evaluate(model, part.X[test], part.y[test], job["n_classes"])
    metrics = {"num-examples": int(test.sum()), "partition-id": pid,
               "confusion": [int(v) for row in ev["confusion"] for v in row]}
    if ev["n"]:
        metrics["loss"] = float(ev["loss"])
    return Message(content=RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)
