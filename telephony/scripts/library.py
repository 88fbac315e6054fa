"""The default script library (shipped as YAML files beside this module) and import/export.

Every import goes through `validate.parse`, so a script from a file meets the same checks
as one saved in the admin page. YAML is read with a loader that refuses aliases: a few
lines of `&a`/`*a` can otherwise expand into millions of nodes ("billion laughs").
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from telephony.scripts.model import Script
from telephony.scripts.validate import ScriptRejected, parse

Format = Literal["yaml", "json"]
FORMATS: Final = ("yaml", "json")
MAX_IMPORT: Final = 1_000_000  # characters of one script file
# The YAML files live in the folder named like this module (package data).
FOLDER: Final = Path(__file__).with_suffix("")


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors' aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.YAMLError(
                f"aliases (*name) are not accepted: line {event.start_mark.line + 1}"
            )
        return super().compose_node(parent, index)


def export(script: Script, fmt: Format = "yaml") -> str:
    """The script as YAML or JSON text; fields left at their defaults are omitted."""
    data = script.model_dump(mode="json", exclude_defaults=True)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.dump(
            data, Dumper=yaml.SafeDumper, allow_unicode=True, sort_keys=False, width=100
        )
    raise ValueError(f"format {fmt!r}: accepted {list(FORMATS)}")


def load_text(text: str, fmt: Format) -> object:
    """The data of a YAML or JSON document; `ScriptRejected` naming the line if unreadable."""
    if fmt not in FORMATS:
        raise ScriptRejected([f"format {fmt!r}: accepted {list(FORMATS)}"])
    if len(text) > MAX_IMPORT:
        raise ScriptRejected([f"the file has {len(text)} characters, the limit is {MAX_IMPORT}"])
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ScriptRejected(
                [f"not valid JSON: line {error.lineno} column {error.colno}: {error.msg}"]
            ) from None
        except (ValueError, RecursionError):  # nesting deeper than Python's stack
            raise ScriptRejected(["not valid JSON: nested too deep"]) from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader without aliases
    except yaml.YAMLError as error:
        raise ScriptRejected([f"not valid YAML: {' '.join(str(error).split())}"]) from None
    except RecursionError:  # nesting deeper than Python's stack
        raise ScriptRejected(["not valid YAML: nested too deep"]) from None


def import_script(text: str, fmt: Format = "yaml") -> Script:
    """A validated script from YAML or JSON text, or `ScriptRejected` with every problem."""
    return parse(load_text(text, fmt))


@cache
def _library() -> tuple[Script, ...]:
    files = sorted(FOLDER.glob("*.yaml"))
    return tuple(import_script(path.read_text("utf-8")) for path in files)


def default_library() -> list[Script]:
    """The scripts shipped with ThirdRing, in Turkish and English (sorted by file name)."""
    return list(_library())
