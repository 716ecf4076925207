"""Names from configs and corpora are data: a safe character set, never a path or markup."""

from __future__ import annotations

import re

from privemo.errors import ConfigError

NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=,@-]{0,99}")
NAME_RULE = ("1-100 characters of letters, digits and _ . + = , @ -, not starting with '.' or '-' "
             "(names become file names)")


def name_error(value: object) -> str | None:
    """Why ``value`` is not a safe name (for pydantic validators), or None."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        return f"{value!r} is not a valid name: {NAME_RULE}"
    return None


def check_name(value: object, what: str = "name") -> str:
    """``value`` if it is a safe name (see :data:`NAME_RULE`), else a ConfigError naming it."""
    err = name_error(value)
    if err:
        raise ConfigError(f"{what} {err}")
    return value  # type: ignore[return-value]


def file_key(value: object) -> str:
    """A corpus key (an item id such as ``Actor_01/03-01-...``) as one safe file name: ``/`` becomes
    ``_`` (as before); a key that is still not a safe name is cleaned and given a short hash, so that
    distinct keys stay distinct."""
    import hashlib

    text = str(value)
    plain = text.replace("/", "_")
    if NAME_RE.fullmatch(plain):
        return plain
    safe = re.sub(r"[^A-Za-z0-9_.+=,@-]", "_", plain)[:80]
    digest = hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"_{safe}_{digest}"
