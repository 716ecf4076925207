"""Experiments: config models, the resumable runner, the results store and reports."""

from privemo.experiments.config import ExperimentConfig, data_root, load_config, parse_config
from privemo.experiments.report import summarize, write_report
from privemo.experiments.runner import Runner, run_unit
from privemo.experiments.store import ResultStore, read_results

__all__ = [
    "ExperimentConfig", "ResultStore", "Runner", "data_root", "load_config", "parse_config", "read_results",
    "run_unit", "summarize", "write_report",
]
