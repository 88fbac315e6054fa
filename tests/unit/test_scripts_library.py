"""The default library: every script valid, import/export round-trips unchanged."""

from __future__ import annotations

import pytest

from telephony.scripts.library import Format, default_library, export, import_script
from telephony.scripts.model import Script
from telephony.scripts.validate import ScriptRejected, parse, problems

LIBRARY = default_library()


def _ids() -> list[str]:
    return [script.key for script in LIBRARY]


@pytest.mark.parametrize("script", LIBRARY, ids=_ids())
def test_every_library_script_validates_with_no_problems(script: Script) -> None:
    assert problems(script) == []
    assert parse(script.model_dump()) == script


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("script", LIBRARY, ids=_ids())
def test_export_then_import_gives_the_same_script(script: Script, fmt: Format) -> None:
    text = export(script, fmt)
    assert import_script(text, fmt) == script
    assert export(import_script(text, fmt), fmt) == text


def test_yaml_aliases_are_refused() -> None:
    with pytest.raises(ScriptRejected, match="aliases"):
        import_script("a: &x [1, 2]\nb: *x\n")
