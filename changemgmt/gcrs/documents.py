"""GCR documents read from a file: JSON or YAML (by the suffix; YAML reads JSON too),
refused in one line naming the file (and the line) when they cannot be read safely: a
file over MAX_FILE_BYTES, YAML aliases (an alias bomb), nesting too deep, numbers too
long, bytes that are not UTF-8. gcrs/input.py reads the fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from changemgmt.domain.errors import DomainError

MAX_FILE_BYTES = 16 * 1024 * 1024  # a GCR reaching 100,000 services is about 7 MB of YAML


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases (`*name`). An alias repeats a node, so a few hundred bytes of
    nested aliases stand for gigabytes (a "billion laughs" file); a GCR file never needs
    one, so the first is refused where it is written, before anything is expanded."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in a GCR file; write the values out",
                self.peek_event().start_mark,
            )
        return super().compose_node(parent, index)


def load_document(path: str | Path) -> dict[str, Any]:
    """Reads a JSON or YAML file (by its suffix; YAML reads JSON too) of at most
    MAX_FILE_BYTES, without YAML aliases."""
    path = Path(path)
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    text = _read_text(path)
    try:
        data = json.loads(text) if kind == "JSON" else yaml.load(text, Loader=_NoAliasLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        raise DomainError("file", f"{path}{where}: not valid YAML: {exc.problem or exc.context}") from None
    except RecursionError:
        raise DomainError("file", f"{path}: not valid {kind}: nested too deeply") from None
    except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError, a number of over 4,300 digits
        raise DomainError("file", f"{path}: not valid {kind}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise DomainError("file", f"{path} must hold one mapping of GCR fields")
    return data


def _read_text(path: Path) -> str:
    """The file's text, read a block at a time so that no more than the cap is held."""
    blocks, size = [], 0
    try:
        with path.open("rb") as handle:
            while block := handle.read(64 * 1024):
                size += len(block)
                if size > MAX_FILE_BYTES:
                    raise DomainError("file", f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
                blocks.append(block)
    except OSError as exc:
        raise DomainError("file", f"cannot read {path}: {exc.strerror}") from None
    raw = b"".join(blocks)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DomainError("file", f"{path}: byte {exc.start} is not UTF-8 text") from None
