from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from telephony.config import AgentConfig, ConfigError, Settings, load_settings

# Any, not str: a **dict[str, str] could also fill the config_file parameter.
REQUIRED: dict[str, Any] = {"ari_username": "thirdring", "ari_password": "s3cret-pass"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("THIRDRING_"):
            monkeypatch.delenv(key)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thirdring.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(config_file: Path | None = None, **overrides: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(config_file, **overrides)
    return str(info.value)


def test_defaults() -> None:
    s = load_settings(**REQUIRED)
    assert s.ari_url == "http://127.0.0.1:8088"
    assert s.ari_password.get_secret_value() == "s3cret-pass"
    assert (s.ari_app, s.http_host, s.http_port) == ("thirdring", "127.0.0.1", 8080)
    assert s.database_url == "sqlite+aiosqlite:///thirdring.db"
    assert s.default_region == "TR"
    assert (s.no_agent_retry_s, s.max_wait_s, s.default_cadence) == (1.0, 60.0, "tr")
    assert s.rings.default.max_rings == 3
    assert (s.recordings_dir, s.agents, s.log_level, s.log_json) == (
        "recordings",
        [],
        "info",
        True,
    )
    assert "s3cret-pass" not in repr(s)


def test_toml_file_with_agents(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
ari_url = "https://pbx.example:8089/"
ari_username = "tr"
ari_password = "0123456789"
http_port = 9000
default_region = "de"
log_level = "DEBUG"
database_url = "postgresql+asyncpg://tr:pw@db/thirdring"

[[agents]]
id = "alice"
name = "Alice"
endpoint = "PJSIP/agent2001"

[[agents]]
id = "bob-2"
name = "Bob"
endpoint = "SIP/bob@trunk"
""",
    )
    s = load_settings(path)
    assert s.ari_url == "https://pbx.example:8089"
    assert (s.http_port, s.default_region, s.log_level) == (9000, "DE", "debug")
    assert s.agents == [
        AgentConfig(id="alice", name="Alice", endpoint="PJSIP/agent2001"),
        AgentConfig(id="bob-2", name="Bob", endpoint="SIP/bob@trunk"),
    ]
    assert "pw@" not in repr(s)


def test_precedence_kwargs_over_env_over_file_over_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        'ari_username = "file"\nari_password = "file-password"\nhttp_port = 1111\n'
        'ari_app = "from-file"\n',
    )
    monkeypatch.setenv("THIRDRING_HTTP_PORT", "2222")
    monkeypatch.setenv("THIRDRING_ARI_USERNAME", "env")
    monkeypatch.setenv("THIRDRING_AGENTS", '[{"id": "a1", "name": "A", "endpoint": "PJSIP/a1"}]')
    s = load_settings(path, ari_username="kwarg")
    assert s.ari_username == "kwarg"
    assert s.http_port == 2222
    assert s.ari_app == "from-file"
    assert s.ari_password.get_secret_value() == "file-password"
    assert s.http_host == "127.0.0.1"
    assert [a.id for a in s.agents] == ["a1"]


def test_required_fields_are_named() -> None:
    message = error_of()
    assert "ari_username is required: set THIRDRING_ARI_USERNAME" in message
    assert "ari_password is required: set THIRDRING_ARI_PASSWORD" in message


def test_bad_port_message_is_exact() -> None:
    assert error_of(**REQUIRED, http_port="abc") == (
        "config error: http_port = 'abc': must be an integer 1..65535"
    )


def test_every_bad_field_is_reported_and_secrets_are_masked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
ari_url = "ftp://pbx"
ari_username = "tr"
ari_password = "short7!"
http_port = 70000
database_url = "mysql://tr:hunter22@db/x"
default_region = "XX"
default_cadence = "mars"
no_agent_retry_s = -1
max_wait_s = "soon"
log_level = "loud"
log_json = "maybe"
ari_connections = 0

[[agents]]
id = "Bad Id"
name = ""
endpoint = "agent2001"
""",
    )
    message = error_of(path)
    lines = message.splitlines()
    assert all(line.startswith("config error: ") for line in lines)
    for expected in [
        "ari_url = 'ftp://pbx': must be an http:// or https:// URL",
        "ari_password = ***: must be a string of at least 8 characters",
        "http_port = 70000: must be an integer 1..65535",
        "database_url = 'mysql://tr:***@db/x': must start with sqlite+aiosqlite://",
        "default_region = 'XX': must be a two-letter region known to phonenumbers",
        "default_cadence = 'mars': must be a known cadence",
        "no_agent_retry_s = -1: must be a number of seconds > 0",
        "max_wait_s = 'soon': must be a number of seconds > 0",
        "log_level = 'loud': must be one of debug, info, warning, error",
        "log_json = 'maybe': must be a boolean",
        "ari_connections = 0: must be an integer 1..5000, below Asterisk's http.conf",
        "agents[0].id = 'Bad Id': must be a slug",
        "agents[0].name = '': must be a string of 1..80 characters",
        "agents[0].endpoint = 'agent2001': must be an Asterisk dial string like PJSIP/agent2001",
    ]:
        assert expected in message
    assert len(lines) == 14
    assert "short7!" not in message
    assert "hunter22" not in message


def test_password_from_env_is_masked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THIRDRING_ARI_PASSWORD", "tiny")
    message = error_of(ari_username="tr")
    assert message == (
        "config error: ari_password = ***: must be a string of at least 8 characters"
    )


def test_unknown_key_is_named_without_its_value(tmp_path: Path) -> None:
    path = write(tmp_path, 'ari_username = "tr"\nari_password = "longenough"\nari_pasword = "x1"\n')
    message = error_of(path)
    assert message == "config error: ari_pasword: unknown setting"


def test_duplicate_agent_ids(tmp_path: Path) -> None:
    agent = {"id": "alice", "name": "Alice", "endpoint": "PJSIP/agent2001"}
    message = error_of(**REQUIRED, agents=[agent, agent])
    assert "agents = " in message
    assert "agent ids must be unique; 'alice' appears twice" in message


def test_extra_key_on_agent(tmp_path: Path) -> None:
    agent = {"id": "alice", "name": "Alice", "endpoint": "PJSIP/a", "pin": "1234"}
    assert error_of(**REQUIRED, agents=[agent]) == ("config error: agents[0].pin: unknown setting")


def test_missing_file(tmp_path: Path) -> None:
    message = error_of(tmp_path / "nope.toml")
    assert message.startswith("config error: config file ")
    assert "nope.toml" in message
    assert "does not exist" in message


def test_bad_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'ari_username = "tr"\nhttp_port = \n')
    message = error_of(path)
    assert "is not valid TOML" in message
    assert "line 2" in message


def test_bad_json_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THIRDRING_AGENTS", "alice")
    message = error_of(**REQUIRED)
    assert message.startswith("config error: agents (from THIRDRING_AGENTS) is not valid JSON")


def test_settings_class_reads_env_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THIRDRING_ARI_USERNAME", "env-user")
    monkeypatch.setenv("THIRDRING_ARI_PASSWORD", "env-password")
    monkeypatch.setenv("THIRDRING_LOG_JSON", "false")
    s = Settings()
    assert (s.ari_username, s.log_json) == ("env-user", False)


def test_ring_policy_errors_name_the_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
ari_username = "tr"
ari_password = "long-enough"
[rings.default]
max_rings = 0
""",
    )
    assert "max_rings" in error_of(path)


def test_the_ivr_escalation_steps_are_accepted_at_start_up(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
ari_username = "tr"
ari_password = "long-enough"
[[rings.default.escalation]]
kind = "callback_offer"
[[rings.default.escalation]]
kind = "voicemail"
[[rings.per_did."2000".escalation]]
kind = "external"
dial = "+905321110000"
""",
    )
    rings = load_settings(path).rings
    assert [s.kind for s in rings.default.escalation] == ["callback_offer", "voicemail"]
    assert [s.kind for s in rings.per_did["2000"].escalation] == ["external"]


def test_a_step_after_a_terminal_step_is_refused_at_start_up(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
ari_username = "tr"
ari_password = "long-enough"
[[rings.default.escalation]]
kind = "voicemail"
[[rings.default.escalation]]
kind = "queue"
""",
    )
    assert "step 2 (queue) follows a terminal step (voicemail at step 1)" in error_of(path)


@pytest.mark.parametrize(
    "url",
    ["ftp://crm/{e164}", "https://crm.example/lookup", "https:///x?p={e164}", "{e164}", ""],
)
def test_a_crm_url_needs_http_a_host_and_the_number(url: str) -> None:
    message = error_of(**REQUIRED, crm_lookup_url=url)
    assert "crm_lookup_url" in message and "{e164}" in message


def test_crm_and_metrics_secrets_are_checked_and_masked() -> None:
    message = error_of(**REQUIRED, metrics_token="short", crm_timeout_s=0)
    assert "metrics_token = ***: must be a string of at least 16 characters" in message
    assert "crm_timeout_s = 0: must be a number of seconds 0.05..10" in message
    settings = load_settings(
        **REQUIRED, crm_lookup_url="https://crm.example/p?n={e164}", crm_token="t0ken"
    )
    assert settings.crm_token is not None and "t0ken" not in repr(settings)
