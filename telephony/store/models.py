"""Database tables. Changing them means adding an Alembic revision under migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

OUTCOMES = ("answered", "abandoned", "no_agent", "failed")
HANGUP_BY = ("caller", "agent", "system")

# Named constraints so SQLite batch migrations can find and alter them later.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on every backend.

    SQLite has no time zone type and hands back naive values; PostgreSQL's
    timestamptz hands back the session's zone. Naive input is refused rather
    than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    endpoint: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # NULL is allowed by the spec but never written: anonymous callers get no contact.
    number_e164: Mapped[str | None] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    call_count: Mapped[int] = mapped_column(Integer)


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('answered', 'abandoned', 'no_agent', 'failed')",
            name="outcome",
        ),
        CheckConstraint(
            "hangup_by IS NULL OR hangup_by IN ('caller', 'agent', 'system')",
            name="hangup_by",
        ),
        Index("ix_calls_arrived_at", "arrived_at"),
        Index("ix_calls_caller_number", "caller_number"),
        Index("ix_calls_ended_at", "ended_at"),
        Index("ix_calls_caller_number_arrived_at", "caller_number", "arrived_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    did: Mapped[str] = mapped_column(String(80))
    caller_number_raw: Mapped[str] = mapped_column(String(80))
    caller_number: Mapped[str | None] = mapped_column(String(16))
    caller_name: Mapped[str] = mapped_column(String(80))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    caller_channel_id: Mapped[str] = mapped_column(String(128))
    agent_channel_id: Mapped[str | None] = mapped_column(String(128))
    bridge_id: Mapped[str | None] = mapped_column(String(128))
    recording_name: Mapped[str | None] = mapped_column(String(255))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    # Rings (see telephony.rings): the cadence the caller heard, the limit, and the
    # ring at which a human answered or the caller gave up.
    cadence: Mapped[str | None] = mapped_column(String(32))
    max_rings: Mapped[float | None] = mapped_column(Float)
    answered_ring: Mapped[float | None] = mapped_column(Float)
    abandoned_ring: Mapped[float | None] = mapped_column(Float)
    system_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # [{"step": "queue", "ring": 4.0}, ...] in the order they were taken.
    escalations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # Set when the service closed the call without seeing its end: pbx_restarted (the
    # PBX went away with it), ended_while_down (the service was not running).
    end_reason: Mapped[str | None] = mapped_column(String(32))


ATTEMPT_OUTCOMES = ("answered", "no_answer", "busy", "rejected", "unreachable", "cancelled")


class CallAttempt(Base):
    """One offer of a call to one agent: who, rang from/to, how it ended."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('answered', 'no_answer', 'busy', 'rejected', 'unreachable', 'cancelled')",
            name="outcome",
        ),
        Index("ix_call_attempts_call_id", "call_id"),
        Index("ix_call_attempts_agent_id", "agent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    channel_id: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))


ROLES = ("agent", "supervisor", "admin")


class User(Base):
    """Someone who logs in to the web app. Only an argon2 hash of the password is kept."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('agent', 'supervisor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Compared exactly (case-sensitive); any printable text, stored and shown as text.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # The call pool's agent this user is (their pops, their calls); one user per agent.
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserSession(Base):
    """A logged-in browser. The cookie's token is never stored: only its SHA-256."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PolicyChange(Base):
    """An admin's change of a policy (kind "rings", ...): the newest one is in force."""

    __tablename__ = "policy_changes"
    __table_args__ = (Index("ix_policy_changes_kind", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    who: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    old: Mapped[dict[str, Any]] = mapped_column(JSON)
    new: Mapped[dict[str, Any]] = mapped_column(JSON)


class AgentEvent(Base):
    """An agent's state change: who changed it (a user, or "system"), when, why."""

    __tablename__ = "agent_events"
    __table_args__ = (Index("ix_agent_events_agent_id", "agent_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(80))
    by: Mapped[str] = mapped_column(String(64))


CALLBACK_STATUSES = ("pending", "calling", "done", "failed", "cancelled")
CALLBACK_OUTCOMES = ("answered", "no_answer", "busy", "unreachable", "no_agent", "abandoned")


class Callback(Base):
    """An outbound callback task: call `number` for `did`'s policy, retried until done."""

    __tablename__ = "callbacks"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'calling', 'done', 'failed', 'cancelled')", name="status"
        ),
        Index("ix_callbacks_status_due_at", "status", "due_at"),
        Index("ix_callbacks_agent_id", "agent_id"),
        Index("ix_callbacks_number", "number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(16))  # E.164
    did: Mapped[str] = mapped_column(String(80))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    # answered / no_answer / busy / unreachable / no_agent / abandoned, of the latest attempt.
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_rings: Mapped[float | None] = mapped_column(Float)  # rings the customer's phone rang
    last_call_id: Mapped[str | None] = mapped_column(String(64))  # bridge and recording name
    handled_by: Mapped[str | None] = mapped_column(String(32))  # the agent who took the call
    created_by: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(32))  # whose callback it is
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A promise made to the caller on a call ("I'll call you back in 15 minutes").
    promise: Mapped[bool] = mapped_column(Boolean, server_default=false())
    note: Mapped[str | None] = mapped_column(String(500))
    call_id: Mapped[str | None] = mapped_column(String(64))  # the call it was promised on


RECORDING_STATUSES = ("recording", "complete", "missing", "short", "silent", "failed", "purged")


class Recording(Base):
    """One call's recording: where it is, what the check after the call found."""

    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint(
            "status IN ('recording', 'complete', 'missing', 'short', 'silent', 'failed', 'purged')",
            name="status",
        ),
        Index("ix_recordings_status", "status"),
        Index("ix_recordings_retain_until", "retain_until"),
    )

    # An inbound call's id, or an outbound callback call's (not in `calls`).
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))  # Asterisk's recording name
    token: Mapped[str] = mapped_column(String(64), unique=True)  # unguessable URL part
    path: Mapped[str | None] = mapped_column(String(255))  # relative to the recordings root
    format: Mapped[str] = mapped_column(String(8))
    channels: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expected_s: Mapped[float | None] = mapped_column(Float)  # talk time the file must cover
    duration_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(255))
    # [{"by", "at", "until"}] spans muted for sensitive data (silence in the file).
    pauses: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    legal_hold: Mapped[bool] = mapped_column(Boolean)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Hold(Base):
    """One hold of a call: who, from where (browser / phone), how long, how it ended."""

    __tablename__ = "holds"
    __table_args__ = (
        Index("ix_holds_call_id", "call_id"),
        Index("ix_holds_agent_id_started_at", "agent_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    agent_id: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16))  # browser / phone
    # retrieved / caller_hung_up / agent_hung_up / returned (hold_max) / escalated ...
    outcome: Mapped[str | None] = mapped_column(String(24))
    warned: Mapped[bool] = mapped_column(Boolean)
    over_limit: Mapped[bool] = mapped_column(Boolean)


class RecordingAudit(Base):
    """Who paused, played, downloaded or purged which call's recording, and when."""

    __tablename__ = "recording_audit"
    __table_args__ = (Index("ix_recording_audit_call_id", "call_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    who: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # pause / resume / play / download / purge
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


NOTE_OUTCOMES = ("offer_made", "pending_purchase", "sale", "lost")


class CallNote(Base):
    """What the agent typed during and after a call: saved as it is typed."""

    __tablename__ = "call_notes"
    __table_args__ = (
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('offer_made', 'pending_purchase', 'sale', 'lost')",
            name="outcome",
        ),
    )

    call_id: Mapped[str] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))  # the caller's name as the agent heard it
    needs: Mapped[str] = mapped_column(Text)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)  # clarifying question -> answer
    notes: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(24))
    lost_reason: Mapped[str | None] = mapped_column(String(200))
    next_step: Mapped[str] = mapped_column(String(200))
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


class ContactNote(Base):
    """What agents learnt about a caller (by number): wins over the Caller ID name."""

    __tablename__ = "contact_notes"

    number_e164: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    needs: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


class UserPrefs(Base):
    """A user's own settings: the interface language (tr / en)."""

    __tablename__ = "user_prefs"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    lang: Mapped[str] = mapped_column(String(8))


class IvrFlowVersion(Base):
    """One saved version of a DID's call flow (`flow` None: the flow was removed).

    The newest version per DID is in force; the older ones are the audit trail.
    """

    __tablename__ = "ivr_flows"
    __table_args__ = (Index("ix_ivr_flows_did_version", "did", "version", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    did: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    flow: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    who: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class IvrRun(Base):
    """The IVR part of one call: the nodes passed, keys pressed, time spent, where it went.

    `call_id` is the call's id in `calls` when the IVR handed the call to the agents;
    calls that ended in the IVR (callback, voicemail, hang-up) are only here.
    """

    __tablename__ = "ivr_runs"
    __table_args__ = (
        Index("ix_ivr_runs_started_at", "started_at"),
        Index("ix_ivr_runs_did_started_at", "did", "started_at"),
    )

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    did: Mapped[str] = mapped_column(String(80))
    flow_version: Mapped[int | None] = mapped_column(Integer)
    caller_number: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seconds: Mapped[float | None] = mapped_column(Float)
    path: Mapped[list[str]] = mapped_column(JSON)
    keys: Mapped[str] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8))
    # agents / callback / voicemail / external / hangup / abandoned
    result: Mapped[str | None] = mapped_column(String(16))
    # {"group"}, {"callback_id", "number"}, {"recording"}, {"number"}...
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    alarms: Mapped[list[str]] = mapped_column(JSON)


# Statistics (issue 8): the figures read the calls in one period through this index,
# without touching the table (measured in bench/dashboard_queries.py).
Index(
    "ix_calls_stats",
    Call.arrived_at,
    Call.did,
    Call.agent_id,
    Call.ended_at,
    Call.answered_at,
    Call.outcome,
    Call.answered_ring,
    Call.max_rings,
    Call.abandoned_ring,
    Call.system_answered_at,
)


class AdSpend(Base):
    """What a source (a DID) cost in advertising in one month, entered by an admin."""

    __tablename__ = "ad_spend"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount"),
        Index("ix_ad_spend_did_month", "did", "month", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    did: Mapped[str] = mapped_column(String(80))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    who: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class GradingForm(Base):
    """One version of the QA form: yes/no questions; the newest version is in force."""

    __tablename__ = "grading_forms"
    __table_args__ = (Index("ix_grading_forms_version", "version", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer)
    # [{"id": "greeted", "text": "...", "group": "..."}] in order
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    who: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Grade(Base):
    """A supervisor's grade of one call; a change is a new revision, never an edit."""

    __tablename__ = "grades"
    __table_args__ = (
        Index("ix_grades_call_id_revision", "call_id", "revision", unique=True),
        Index("ix_grades_agent_id_at", "agent_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    form_version: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)  # question id -> true / false
    yes: Mapped[int] = mapped_column(Integer)
    asked: Mapped[int] = mapped_column(Integer)
    mystery: Mapped[bool] = mapped_column(Boolean)  # a mystery-shopper test call
    scenario: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(String(1000))
    who: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class StatsDay(Base):
    """A closed UTC day whose figures are pre-aggregated in stats_daily (and when)."""

    __tablename__ = "stats_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StatsDaily(Base):
    """One day's figures for one DID and agent ("" for none): additive counters and
    histograms as JSON (see telephony.stats.rollup)."""

    __tablename__ = "stats_daily"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    did: Mapped[str] = mapped_column(String(80), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)


class StatsWeekly(Base):
    """One closed ISO week's figures (Monday's date) for one DID and agent: the sum of
    its seven stats_daily rows, in their format (see telephony.stats.rollup)."""

    __tablename__ = "stats_weekly"

    week: Mapped[str] = mapped_column(String(10), primary_key=True)
    did: Mapped[str] = mapped_column(String(80), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)


# Scripts (issue 7): the agent's guide through a call, versioned, released in weighted
# variants, matched to calls by campaign (the DIDs of one advert) and ordered rules.
SCRIPT_VERSION_STATUSES = ("draft", "published", "retired")


class ScriptRow(Base):
    """A script across its versions: its key, name and language, and whether retired."""

    __tablename__ = "scripts"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_by: Mapped[str | None] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScriptVersionRow(Base):
    """One version's body. A draft is edited in place; a published version never
    changes again (calls keep the version they were given); a retired one is no longer
    released."""

    __tablename__ = "script_versions"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
        Index("ix_script_versions_key_version", "key", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(ForeignKey("scripts.key", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScriptReleaseRow(Base):
    """The weighted variants calls get for one script; the newest row per key is in
    force, the older ones are its history."""

    __tablename__ = "script_releases"
    __table_args__ = (Index("ix_script_releases_key", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(ForeignKey("scripts.key", ondelete="CASCADE"))
    # [{"label": "A", "version": 1, "weight": 50}, ...]
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    who: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScriptCampaignRow(Base):
    """An inbound flow: the DIDs of one advert or source, and the script they get."""

    __tablename__ = "script_campaigns"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    dids: Mapped[list[str]] = mapped_column(JSON)
    script: Mapped[str | None] = mapped_column(String(40))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScriptRuleRow(Base):
    """One matching rule; `position` orders them (the first that holds wins)."""

    __tablename__ = "script_rules"

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(Text)
    when: Mapped[dict[str, Any]] = mapped_column(JSON)
    script: Mapped[str] = mapped_column(String(40))


class CallScriptRow(Base):
    """The script a call got (key, version, variant), why, and the agent's marks on it;
    the call's outcome (call_notes) is attributed to this version and variant."""

    __tablename__ = "call_scripts"
    __table_args__ = (Index("ix_call_scripts_key_assigned_at", "key", "assigned_at"),)

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    variant: Mapped[str] = mapped_column(String(4))
    campaign: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[list[str]] = mapped_column(JSON)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # {"stage", "questions": [...], "price_asks", "no_next_step_reason", ...}
    progress: Mapped[dict[str, Any]] = mapped_column(JSON)
