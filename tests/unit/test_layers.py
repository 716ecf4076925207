"""The import order of docs/architecture.md, checked on the source: a room imports only rooms below it
(``cli -> experiments -> {learners, attacks, anonymize} -> evaluators -> {models, features, metrics} ->
corpora -> media``), and the three rooms of one level never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import privemo

RANK = {"cli": 6, "experiments": 5, "learners": 4, "attacks": 4, "anonymize": 4, "evaluators": 3,
        "models": 2, "features": 2, "metrics": 2, "corpora": 1, "media": 0}
# documented exceptions (docs/architecture.md): the PPRL-VGAN anonymizer loads its learner's model, lazily
ALLOWED = {("anonymize/face_vgan.py", "privemo.learners.vgan")}


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("privemo."):
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("privemo.")]
    return out


def test_every_room_imports_only_the_rooms_below_it():
    root = Path(privemo.__file__).parent
    broken = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        room = rel.split("/")[0]
        if room not in RANK:
            continue
        for line, module in _imports(path):
            target = module.split(".")[1]
            if target in RANK and target != room and RANK[target] >= RANK[room] and (rel, module) not in ALLOWED:
                broken.append(f"{rel}:{line} ({room}) imports {module} ({target})")
    assert not broken, "\n".join(broken)
