"""The federated experiment (nunez): configuration, the clients' data, the centralised baselines,
federations in Flower's simulation engine, the attack on the updates, and the report."""

from privemo.experiments.federated.config import (
    FederatedConfig,
    load_federated_config,
    parse_federated_config,
)

__all__ = ["FederatedConfig", "load_federated_config", "parse_federated_config"]
