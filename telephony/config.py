"""Service settings: init kwargs > THIRDRING_* environment > one TOML file > defaults.

`load_settings` is the only way the service builds its settings, so every bad
value is reported in one `ConfigError` naming the field, the value (secrets
masked) and what would be accepted.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from telephony.calls.plans import unsupported_steps
from telephony.rings.cadences import find_cadence, known_cadence_names
from telephony.rings.policy import RingPolicies

ENV_PREFIX = "THIRDRING_"

_AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_DIAL_STRING = re.compile(r"^[A-Za-z]+/[^\s,]+$")
_DB_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
_SECRET_FIELDS = frozenset({"ari_password", "metrics_token", "crm_token"})

# What a user is told is accepted, by field path ("agents.*.id" for list items).
_ACCEPTED: dict[str, str] = {
    "ari_url": "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8088",
    "ari_username": "must be a non-empty string",
    "ari_password": "must be a string of at least 8 characters",
    "crm_lookup_url": "must be an http:// or https:// URL with a host and {e164} where the "
    "caller's number goes, e.g. https://crm.example/lookup?phone={e164}",
    "crm_timeout_s": "must be a number of seconds 0.05..10",
    "metrics_token": "must be a string of at least 16 characters (or unset: /metrics then "
    "needs a supervisor's or admin's session)",
    "ari_app": "must be a non-empty string",
    "http_host": "must be a non-empty host name or IP address",
    "http_port": "must be an integer 1..65535",
    "database_url": "must start with sqlite+aiosqlite:// or postgresql+asyncpg://",
    "default_region": "must be a two-letter region known to phonenumbers, e.g. TR, DE, US",
    "no_agent_retry_s": "must be a number of seconds > 0",
    "ari_reconnect_max_s": "must be a number of seconds 0.5..300",
    "ari_connections": "must be an integer 1..5000, below Asterisk's http.conf sessionlimit",
    "max_wait_s": "must be a number of seconds > 0",
    "ivr_sounds_dir": "must be a non-empty path (IVR prompts: recorded files and the TTS cache)",
    "ivr_sounds_pbx_dir": "must be a string: the same folder as Asterisk sees it (empty: same)",
    "wrapup_s": "must be a number of seconds 0..3600 (0: no wrap-up)",
    "recordings_dir": "must be a non-empty path (the recordings root, made if missing)",
    "recording_pause_allowed": "must be a boolean (true/false)",
    "recording_retention_days": "must be an integer number of days 1..36500",
    "recording_retention_by_did": "must be a table of DID = days (1..36500)",
    "recording_retention_by_did.*": "must be an integer number of days 1..36500",
    "recording_channels": "must be 1 (mixed mono) or 2 (caller left, agent right)",
    "recording_format": "must be wav or opus (opus needs opusenc, Debian's opus-tools)",
    "recording_channels_by_did": "must be a table of DID = 1 or 2",
    "recording_channels_by_did.*": "must be 1 (mixed mono) or 2 (caller left, agent right)",
    "agents": "must be a list of agents, each with id, name and endpoint",
    "agents.*": "must be a table with id, name, endpoint and optionally priority, groups",
    "agents.*.groups": "must be a list of group names (slugs like sales, support)",
    "agents.*.groups.*": "must be a slug: lowercase letters, digits, '_' or '-', 1..32 chars",
    "agents.*.id": "must be a slug: lowercase letters, digits, '_' or '-', 1..32 chars",
    "agents.*.name": "must be a string of 1..80 characters",
    "agents.*.endpoint": "must be an Asterisk dial string like PJSIP/agent2001",
    "session_idle_timeout_s": "must be a number of seconds > 0",
    "session_absolute_timeout_s": "must be a number of seconds > 0",
    "login_max_failures_per_user": "must be an integer 1..1000",
    "login_max_failures_per_ip": "must be an integer 1..100000",
    "login_failure_window_s": "must be a number of seconds > 0",
    "log_level": "must be one of debug, info, warning, error",
    "log_json": "must be a boolean (true/false)",
}


class ConfigError(Exception):
    """Settings could not be loaded; the message is meant for the operator."""


class AgentConfig(BaseModel, extra="forbid"):
    id: str = Field(pattern=_AGENT_ID.pattern)
    name: str = Field(min_length=1, max_length=80)
    endpoint: str = Field(pattern=_DIAL_STRING.pattern)
    # Lower rings first when a ring policy selects agents "sequential"ly.
    priority: int = Field(default=100, ge=0, le=1000)
    # The groups an IVR can route to (e.g. "sales", "support"); none: any call.
    groups: list[Annotated[str, Field(pattern=_AGENT_ID.pattern)]] = Field(default_factory=list)


PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]

# The TOML file's values for the settings being built. A context variable
# rather than a class attribute so concurrent loads (tests) never mix files.
_file_values: ContextVar[Mapping[str, Any] | None] = ContextVar("_file_values", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    ari_url: str = "http://127.0.0.1:8088"
    ari_username: str = Field(min_length=1)
    # No default: a PBX control password must be chosen by the operator.
    ari_password: SecretStr
    ari_app: str = Field(default="thirdring", min_length=1)
    # Prometheus scrapes /metrics with "Authorization: Bearer <token>". No default: unset,
    # /metrics needs a logged-in supervisor or admin.
    metrics_token: SecretStr | None = None
    # The optional external CRM: asked once per call; its answer follows the pop as an
    # update, within crm_timeout_s or never. crm_token is sent as a bearer token.
    crm_lookup_url: str | None = None
    crm_timeout_s: float = Field(default=1.0, ge=0.05, le=10.0)
    crm_token: SecretStr | None = None
    http_host: str = Field(default="127.0.0.1", min_length=1)
    http_port: int = Field(default=8080, ge=1, le=65535)
    # repr=False: a PostgreSQL URL may carry a password; keep it out of logged reprs.
    database_url: str = Field(default="sqlite+aiosqlite:///thirdring.db", repr=False)
    default_region: str = "TR"
    # Ring policies (see telephony.rings): per DID, in rings the caller hears.
    rings: RingPolicies = Field(default_factory=RingPolicies)
    # The cadence when neither the DID's policy nor the caller's country names one.
    default_cadence: str = "tr"
    no_agent_retry_s: PositiveSeconds = 1.0
    # The longest wait between two tries to reach ARI (jittered, growing from 0.5 s):
    # calls are in Asterisk while we are away, so the wait stays short.
    ari_reconnect_max_s: float = Field(default=4.0, ge=0.5, le=300.0)
    # REST requests to ARI at once (the rest wait for a connection). Under Asterisk's
    # http.conf `sessionlimit`: dialplans/common/http.conf sets 1000, Asterisk's own is 100.
    ari_connections: int = Field(default=400, ge=1, le=5000)
    max_wait_s: PositiveSeconds = 60.0
    # IVR prompts (recorded files, the TTS cache) as the service sees them, and as the
    # PBX sees the same folder (a PBX in a chroot or container); empty: the same path.
    ivr_sounds_dir: str = Field(default="ivr-sounds", min_length=1)
    ivr_sounds_pbx_dir: str = ""
    # After a call an agent talked: wrap-up (no offers) until the outcome is set or this
    # many seconds pass. 0: straight back to available.
    wrapup_s: float = Field(default=0.0, ge=0.0, le=3600.0)
    # Where checked recordings are kept (YYYY/MM/DD/<call id>.wav under it).
    recordings_dir: str = Field(default="recordings", min_length=1)
    # Agents may pause (mute) a call's recording while a caller reads out card details.
    recording_pause_allowed: bool = True
    recording_retention_days: int = Field(default=365, ge=1, le=36500)
    recording_retention_by_did: dict[str, Annotated[int, Field(ge=1, le=36500)]] = Field(
        default_factory=dict
    )
    # Mixed mono by default; two channels (caller left, agent right) for QA, per DID.
    recording_channels: Literal[1, 2] = 1
    # Kept as recorded (wav), or compressed to Opus after the check (~10x smaller).
    recording_format: Literal["wav", "opus"] = "wav"
    recording_channels_by_did: dict[str, Literal[1, 2]] = Field(default_factory=dict)
    agents: list[AgentConfig] = Field(default_factory=list)
    # Web sessions (see telephony.auth): logged out after this long without a request,
    # and after this long in any case.
    session_idle_timeout_s: PositiveSeconds = 8 * 3600.0
    session_absolute_timeout_s: PositiveSeconds = 24 * 3600.0
    # Failed logins within login_failure_window_s before further tries get 429.
    login_max_failures_per_user: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_ip: int = Field(default=20, ge=1, le=100_000)
    login_failure_window_s: PositiveSeconds = 300.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = True

    def retention_days(self, did: str) -> int:
        return self.recording_retention_by_did.get(did, self.recording_retention_days)

    def recording_channels_for(self, did: str) -> int:
        return self.recording_channels_by_did.get(did, self.recording_channels)

    @field_validator("ari_url")
    @classmethod
    def _check_ari_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(_ACCEPTED["ari_url"])
        return value.rstrip("/")

    @field_validator("ari_password")
    @classmethod
    def _check_password(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 8:
            raise ValueError(_ACCEPTED["ari_password"])
        return value

    @field_validator("crm_lookup_url")
    @classmethod
    def _check_crm_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or "{e164}" not in value:
            raise ValueError(_ACCEPTED["crm_lookup_url"])
        return value

    @field_validator("metrics_token")
    @classmethod
    def _check_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(_ACCEPTED["metrics_token"])
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(_DB_SCHEMES):
            raise ValueError(_ACCEPTED["database_url"])
        return value

    @field_validator("default_region", mode="before")
    @classmethod
    def _check_region(cls, value: object) -> object:
        if isinstance(value, str):
            region = value.strip().upper()
            if region not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(_ACCEPTED["default_region"])
            return region
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("default_cadence")
    @classmethod
    def _known_cadence(cls, value: str, info: ValidationInfo) -> str:
        rings = info.data.get("rings")
        custom = rings.custom_cadences if isinstance(rings, RingPolicies) else {}
        if find_cadence(value.strip().lower(), custom) is None:
            raise ValueError(f"must be a known cadence: {', '.join(known_cadence_names(custom))}")
        return value.strip().lower()

    @field_validator("rings")
    @classmethod
    def _supported_steps(cls, value: RingPolicies) -> RingPolicies:
        problems = unsupported_steps(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("agents")
    @classmethod
    def _unique_agent_ids(cls, value: list[AgentConfig]) -> list[AgentConfig]:
        seen: set[str] = set()
        for agent in value:
            if agent.id in seen:
                raise ValueError(f"agent ids must be unique; {agent.id!r} appears twice")
            seen.add(agent.id)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Exactly one file format and no .env/secrets dirs: fewer places to look.
        file_source = InitSettingsSource(settings_cls, init_kwargs=dict(_file_values.get() or {}))
        return (init_settings, env_settings, file_source)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, or raise ConfigError listing every problem."""
    file_values = _read_toml(config_file) if config_file is not None else {}
    with _using_file_values(file_values):
        try:
            return Settings(**overrides)
        except ValidationError as exc:
            lines = [_describe(err) for err in exc.errors()]
            raise ConfigError("\n".join(lines)) from None
        except SettingsError as exc:
            # Raised for an environment value that is not valid JSON (e.g. agents).
            raise ConfigError(_describe_settings_error(exc)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config error: config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config error: cannot read config file {str(path)!r}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries "(at line N, column M)".
        raise ConfigError(f"config error: {str(path)!r} is not valid TOML: {exc}") from None


@contextmanager
def _using_file_values(values: Mapping[str, Any]) -> Iterator[None]:
    token = _file_values.set(values)
    try:
        yield
    finally:
        _file_values.reset(token)


def _describe(err: ErrorDetails) -> str:
    loc = err["loc"]
    field = _field_name(loc)
    if err["type"] == "missing":
        env = ENV_PREFIX + field.upper()
        return f"config error: {field} is required: set {env} or {field} in the config file"
    if err["type"] == "extra_forbidden":
        # The value is never shown: it may be a mistyped password.
        return f"config error: {field}: unknown setting"
    if err["type"] == "value_error":
        accepted = str(err.get("ctx", {}).get("error", err["msg"]))
    else:
        accepted = _ACCEPTED.get(_pattern(loc), err["msg"])
    return f"config error: {field} = {_show(loc, err['input'])}: {accepted}"


def _describe_settings_error(exc: SettingsError) -> str:
    match = re.search(r'field "([^"]+)"', str(exc))
    if match is None:
        return f"config error: {exc}"
    field = match.group(1)
    accepted = _ACCEPTED.get(field, "must be valid JSON")
    return (
        f"config error: {field} (from {ENV_PREFIX}{field.upper()}) is not valid JSON: "
        f"{accepted}, written as JSON"
    )


def _field_name(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _pattern(loc: tuple[int | str, ...]) -> str:
    return ".".join("*" if isinstance(part, int) else part for part in loc)


def _show(loc: tuple[int | str, ...], value: object) -> str:
    if loc and loc[0] in _SECRET_FIELDS:
        return "***"
    if isinstance(value, SecretStr):
        return "***"
    if isinstance(value, str):
        return repr(_mask_url_password(value))
    return repr(value)


def _mask_url_password(value: str) -> str:
    """Hide the password of a URL such as postgresql+asyncpg://user:pw@host/db."""
    try:
        parts = urlsplit(value)
        if parts.password is None:
            return value
    except ValueError:
        return value
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
