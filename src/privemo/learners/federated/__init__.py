"""Federated speech emotion recognition on Flower (nunez): every speaker is a client.

``task`` holds the plain task functions (model, training, evaluation), shared with the centralised
baselines; ``client_app`` and ``server_app`` are Flower's ClientApp and ServerApp, thin adapters
around them; ``deploy`` runs one federation as real SuperLink / SuperNode processes on localhost.
The experiment around them (data, baselines, simulation, the attack on updates, the report) is
:mod:`privemo.experiments.federated`. Flower is imported only by the apps (``privemo[federated]``).
"""
