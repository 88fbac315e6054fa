"""The command line refuses a wrong configuration before touching anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THIRDRING_")}
    return subprocess.run(
        [sys.executable, "-m", "telephony", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=30,
        check=False,
    )


def test_serve_with_bad_config_names_field_value_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('ari_username = "u"\nhttp_port = "abc"\n')
    result = run_cli("serve", "--config", str(config), env={"THIRDRING_ARI_PASSWORD": "s3cret-pw"})
    assert result.returncode == 2
    assert "http_port" in result.stderr and "abc" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_serve_without_password_refuses_to_start(tmp_path: Path) -> None:
    config = tmp_path / "nopw.toml"
    config.write_text('ari_username = "u"\n')
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert "ari_password" in result.stderr


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("serve", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml" in result.stderr
