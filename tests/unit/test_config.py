"""Config validation: a clear error naming the bad key; YAML never executes code."""

from __future__ import annotations

import pytest

from privemo.errors import ConfigError
from privemo.experiments import load_config, parse_config

BASE = {
    "name": "t", "corpus": {"type": "synthetic"},
    "variants": [{"name": "v", "features": {"type": "mfcc"}}],
    "evaluators": [{"type": "emotion"}],
}


def cfg(**over):
    return {**BASE, **over}


def test_valid_config_round_trips(tmp_path):
    c = parse_config(cfg())
    assert c.folds == 5 and c.variants[0].normalize == "none"
    (tmp_path / "c.yaml").write_text(c.to_yaml())
    assert load_config(tmp_path / "c.yaml") == c


@pytest.mark.parametrize("data,where", [
    (cfg(folds=1), "folds"),
    (cfg(foldz=3), "foldz"),
    (cfg(variants=[{"name": "v", "features": {"type": "mfcc"}, "normalize": "global"}]), "variants.0.normalize"),
    (cfg(variants=[{"name": "v", "features": {"n_mels": 3}}]), "variants.0.features"),
    (cfg(variants=[{"name": "v", "features": {"type": "wavelets"}}]), "variants.0.features.type"),
    (cfg(evaluators=[{"type": "emotion"}, {"type": "mind_reader"}]), "evaluators.1.type"),
    (cfg(evaluators=[{"type": "emotion"}, {"type": "emotion"}]), "unique"),
    (cfg(corpus={"type": "ravdes"}), "corpus.type"),
    (cfg(executor="cluster"), "executor"),
])
def test_bad_key_is_named(data, where):
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        parse_config(data)


def test_yaml_cannot_execute_code(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")


def test_shipped_configs_are_valid():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs"
    files = sorted(root.glob("*.yaml"))
    assert {f.name for f in files} >= {"demo.yaml", "ravdess_baseline.yaml"}
    for f in files:
        load_config(f)
