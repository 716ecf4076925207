"""Flower's server strategies as a registered kind (``strategy``): every aggregation strategy class
that ``flwr.serverapp.strategy`` ships, under its lower-cased class name (``fedavg``, ``fedprox``,
``fedadam``, ``fedyogi``, ``fedadagrad``, ``fedavgm``, ``fedmedian``, ``fedtrimmedavg``, ``krum``,
``multikrum``, ``bulyan``, ``qfedavg``, ...), whose parameters are the class's own keyword arguments
(``proximal_mu``, ``eta``, ``beta_1``, ``server_momentum``, ``num_malicious_nodes``...), checked
against its signature when a config is read.

The settings privemo sets itself from the federation (the fraction of clients per round, the minimum
node counts, the metric keys and aggregation functions) are not a strategy's parameters. Flower's
differential-privacy wrappers are not registered (client-side DP-SGD is the ``dp`` setting), nor are
the XGBoost strategies (they aggregate trees, not weights). A config names one as
``strategy: {type: fedprox, proximal_mu: 0.01}``.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from privemo.registry import register

# what make_strategy sets from the federation's settings (never a config key)
SET_BY_PRIVEMO = ("fraction_train", "fraction_evaluate", "min_train_nodes", "min_evaluate_nodes",
                  "min_available_nodes", "weighted_by_key", "arrayrecord_key", "configrecord_key",
                  "train_metrics_aggr_fn", "evaluate_metrics_aggr_fn", "train_loss_key")
# privemo's older spelling of a strategy parameter -> Flower's
ALIASES = {"fedprox": {"mu": "proximal_mu"}}


def _params_of(cls: type) -> Any:
    """A function whose signature is ``cls``'s parameters but the ones privemo sets (the schema)."""
    sig = inspect.signature(cls.__init__)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation Flower cannot resolve here is checked as Any  # noqa: BLE001
        hints = {}
    kept = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()
            if p.name != "self" and p.name not in SET_BY_PRIVEMO
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    def params(**kwargs: Any) -> None:
        """The strategy's configurable parameters."""

    params.__signature__ = sig.replace(parameters=kept, return_annotation=None)  # type: ignore[attr-defined]
    params.__annotations__ = {p.name: p.annotation for p in kept if p.annotation is not p.empty}
    params.__name__ = cls.__name__
    return params


class StrategyFactory:
    """A registered Flower strategy: ``cls`` and its parameter schema (``__params__``)."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.__params__ = _params_of(cls)
        self.__name__ = cls.__name__
        self.__doc__ = (cls.__doc__ or "").strip().split("\n")[0]

    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in inspect.signature(self.__params__).parameters.items()
                if p.default is not p.empty}

    def __call__(self, **kwargs: Any) -> Any:
        return self.cls(**kwargs)


def _register() -> None:
    try:
        import flwr.serverapp.strategy as fs
    except ImportError:  # privemo[federated] not installed: no strategies
        return
    for name in sorted(getattr(fs, "__all__", dir(fs))):
        cls = getattr(fs, name, None)
        if not inspect.isclass(cls) or not issubclass(cls, fs.Strategy) or cls is fs.Strategy:
            continue
        params = inspect.signature(cls.__init__).parameters
        if "strategy" in params or name.startswith("FedXgb"):
            continue
        register("strategy", name.lower())(StrategyFactory(cls))


_register()
