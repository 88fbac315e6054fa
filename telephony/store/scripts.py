"""Scripts in the database: versions, releases, campaigns, rules, and each call's script.

- A script's versions: a draft is edited in place (at most one per script, always the
  newest version); publishing freezes it for good, so a call keeps the exact words it
  was given; a retired version is no longer released.
- A release names the weighted variants calls get (each a published version); the
  newest release per script is in force, the older ones are its history.
- Campaigns (the DIDs of one advert) and ordered rules say which script a call gets.
- `setup()` is all of it as `MatchSetup`, kept in memory and rebuilt after every change,
  so a change is in force for the next call without a restart.
- Every admin change is written to the policy audit trail (kind "scripts": who, when,
  old, new) in the same transaction as the change itself.
- `conversion()` attributes the calls' outcomes (call_notes) to version and variant.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telephony.scripts.matching import setup_problems
from telephony.scripts.model import (
    CallScript,
    Campaign,
    Language,
    MatchRule,
    MatchSetup,
    Release,
    Script,
)
from telephony.scripts.validate import warnings
from telephony.scripts.variants import release_problems
from telephony.store.models import (
    CallScriptRow,
    PolicyChange,
    ScriptCampaignRow,
    ScriptRow,
    ScriptRuleRow,
    ScriptVersionRow,
)
from telephony.store.script_conversion import VariantConversion, conversion
from telephony.store.script_defaults import load_defaults, pick
from telephony.store.script_records import (
    AUDIT_KIND,
    DEFAULT_KIND,
    Change,
    Defaults,
    ScriptInfo,
    ScriptRefused,
    VersionInfo,
    audit,
    campaign_of_row,
    live_script,
    model_of,
    parse_script,
    read_campaigns,
    read_default_script,
    read_releases,
    read_rules,
    usable,
    version_info,
    write_release,
    write_rule,
)

__all__ = [
    "Change",
    "Defaults",
    "ScriptInfo",
    "ScriptRefused",
    "ScriptStore",
    "VariantConversion",
    "VersionInfo",
    "pick",
]

MAX_RULES = 200
MAX_CAMPAIGNS = 500
MAX_PROGRESS_KEYS = 50
SYSTEM = "system"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ScriptStore:
    def __init__(self, engine: AsyncEngine, now: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._now = now
        self._bodies: dict[tuple[str, int], Script] = {}  # published bodies never change
        self._generation = 0
        self._setup: MatchSetup | None = None
        self._setup_generation = -1

    # --- reading ------------------------------------------------------------------

    async def scripts(self) -> list[ScriptInfo]:
        """Every script with its versions (oldest first) and its release in force."""
        async with self._engine.connect() as conn:
            scripts = (await conn.execute(select(ScriptRow).order_by(ScriptRow.key))).all()
            versions = (
                await conn.execute(
                    select(ScriptVersionRow).order_by(
                        ScriptVersionRow.key, ScriptVersionRow.version
                    )
                )
            ).all()
            releases = await read_releases(conn)
        per_key: dict[str, list[VersionInfo]] = {}
        for v in versions:
            per_key.setdefault(v.key, []).append(version_info(v))
        return [
            ScriptInfo(
                key=s.key,
                name=s.name,
                language=s.language,
                created_by=s.created_by,
                created_at=s.created_at,
                retired_by=s.retired_by,
                retired_at=s.retired_at,
                versions=per_key.get(s.key, []),
                release=releases.get(s.key),
            )
            for s in scripts
        ]

    async def script(self, key: str) -> ScriptInfo:
        for info in await self.scripts():
            if info.key == key:
                return info
        raise ScriptRefused([f"script {key!r}: no such script"], 404)

    async def version(self, key: str, version: int | None = None) -> tuple[VersionInfo, Script]:
        """One version and its body (None: the newest version, draft or not)."""
        stmt = select(ScriptVersionRow).where(ScriptVersionRow.key == key)
        if version is None:
            stmt = stmt.order_by(ScriptVersionRow.version.desc()).limit(1)
        else:
            stmt = stmt.where(ScriptVersionRow.version == version)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            which = f"script {key!r}" + (f" version {version}" if version is not None else "")
            raise ScriptRefused([f"{which}: no such version"], 404)
        return version_info(row), Script.model_validate(row.body)

    async def history(self, key: str | None = None, limit: int = 50) -> list[Change]:
        """Newest first: every audited change, or those about one script."""
        stmt = (
            select(PolicyChange)
            .where(PolicyChange.kind.in_((AUDIT_KIND, DEFAULT_KIND)))
            .order_by(PolicyChange.id.desc())
            .limit(limit if key is None else 2000)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        changes = [Change(r.who, r.at, r.old, r.new) for r in rows]
        if key is not None:
            changes = [c for c in changes if key in (c.new.get("key"), c.old.get("key"))]
        return changes[:limit]

    async def release(self, key: str) -> Release | None:
        async with self._engine.connect() as conn:
            return (await read_releases(conn, key)).get(key)

    async def campaigns(self) -> list[Campaign]:
        async with self._engine.connect() as conn:
            return await read_campaigns(conn)

    async def rules(self) -> list[MatchRule]:
        async with self._engine.connect() as conn:
            return await read_rules(conn)

    async def default_script(self) -> str | None:
        async with self._engine.connect() as conn:
            return await read_default_script(conn)

    # --- versions -----------------------------------------------------------------

    async def save_draft(
        self, raw: Mapping[str, Any], *, who: str
    ) -> tuple[VersionInfo, list[str]]:
        """Validate and store `raw` as the script's draft: a new script, a new draft
        after the newest published version, or the open draft changed in place.
        Returns the draft and the validator's warnings."""
        script = parse_script(raw)
        body = script.model_dump(mode="json")
        now = self._now()
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(ScriptRow).where(ScriptRow.key == script.key))).first()
            newest = (
                await conn.execute(
                    select(ScriptVersionRow)
                    .where(ScriptVersionRow.key == script.key)
                    .order_by(ScriptVersionRow.version.desc())
                    .limit(1)
                )
            ).first()
            if row is None:
                await conn.execute(
                    insert(ScriptRow).values(
                        key=script.key,
                        name=script.name,
                        language=script.language,
                        created_by=who,
                        created_at=now,
                    )
                )
            elif row.retired_at is not None:
                raise ScriptRefused([f"script {script.key!r} is retired: choose another key"])
            elif row.language != script.language:
                raise ScriptRefused(
                    [
                        f"language = {script.language!r}: script {script.key!r} is in "
                        f"{row.language!r}; a script in another language is another script"
                    ]
                )
            else:
                await conn.execute(
                    update(ScriptRow).where(ScriptRow.key == script.key).values(name=script.name)
                )
            if newest is not None and newest.status == "draft":
                version = newest.version
                await conn.execute(
                    update(ScriptVersionRow)
                    .where(ScriptVersionRow.id == newest.id)
                    .values(body=body, created_by=who, created_at=now)
                )
                old: dict[str, Any] = {"key": script.key, "version": version, "body": newest.body}
            else:
                version = (newest.version if newest else 0) + 1
                await conn.execute(
                    insert(ScriptVersionRow).values(
                        key=script.key,
                        version=version,
                        body=body,
                        status="draft",
                        created_by=who,
                        created_at=now,
                    )
                )
                old = {}
            new = {"action": "save_draft", "key": script.key, "version": version, "body": body}
            await audit(conn, who, now, old, new)
        info = VersionInfo(script.key, version, "draft", who, now, None, None)
        return info, list(warnings(script))

    async def publish(self, key: str, *, who: str, version: int | None = None) -> VersionInfo:
        """Freeze the script's draft as a published version (`version`, if given, must
        be the draft's number). The first published version gets a release of its own
        (variant A, all calls); later ones are released by `set_release`."""
        now = self._now()
        async with self._engine.begin() as conn:
            await live_script(conn, key)
            draft = (
                await conn.execute(
                    select(ScriptVersionRow)
                    .where(ScriptVersionRow.key == key, ScriptVersionRow.status == "draft")
                    .order_by(ScriptVersionRow.version.desc())
                    .limit(1)
                )
            ).first()
            if draft is None:
                raise ScriptRefused([f"script {key!r} has no draft to publish: save one first"])
            if version is not None and version != draft.version:
                raise ScriptRefused(
                    [
                        f"version = {version}: only the draft (version {draft.version}) can be "
                        "published; published versions never change"
                    ]
                )
            parse_script(draft.body)  # the validator may have grown stricter since it was saved
            await conn.execute(
                update(ScriptVersionRow)
                .where(ScriptVersionRow.id == draft.id)
                .values(status="published", published_by=who, published_at=now)
            )
            await audit(
                conn,
                who,
                now,
                {"key": key, "version": draft.version, "status": "draft"},
                {"action": "publish", "key": key, "version": draft.version},
            )
            if not (await read_releases(conn, key)):
                first = Release.model_validate(
                    {
                        "key": key,
                        "variants": [{"label": "A", "version": draft.version, "weight": 100}],
                    }
                )
                await write_release(conn, first, who, now, old=None)
        await self._changed()
        return VersionInfo(
            key, draft.version, "published", draft.created_by, draft.created_at, who, now
        )

    async def retire(self, key: str, *, who: str, version: int | None = None) -> None:
        """Retire a whole script (refused while a campaign, a rule or the fallback names
        it) or one version of it (refused while the release in force names it)."""
        now = self._now()
        async with self._engine.begin() as conn:
            await live_script(conn, key)
            if version is None:
                users = [
                    f"campaign {c.key!r}" for c in await read_campaigns(conn) if c.script == key
                ] + [f"rule {r.name!r}" for r in await read_rules(conn) if r.script == key]
                if await read_default_script(conn) == key:
                    users.append("the fallback script")
                if users:
                    raise ScriptRefused(
                        [
                            f"script {key!r} is in use by {', '.join(users)}: "
                            "give them another script first"
                        ]
                    )
                await conn.execute(
                    update(ScriptRow)
                    .where(ScriptRow.key == key)
                    .values(retired_by=who, retired_at=now)
                )
                await audit(conn, who, now, {"key": key}, {"action": "retire", "key": key})
            else:
                row = (
                    await conn.execute(
                        select(ScriptVersionRow).where(
                            ScriptVersionRow.key == key, ScriptVersionRow.version == version
                        )
                    )
                ).first()
                if row is None:
                    raise ScriptRefused([f"script {key!r} version {version}: no such version"], 404)
                if row.status == "retired":
                    raise ScriptRefused([f"script {key!r} version {version} is already retired"])
                release = (await read_releases(conn, key)).get(key)
                if release and any(v.version == version for v in release.variants):
                    raise ScriptRefused(
                        [
                            f"script {key!r} version {version} is released (variants "
                            f"{[v.label for v in release.variants if v.version == version]}): "
                            "change the release first"
                        ]
                    )
                await conn.execute(
                    update(ScriptVersionRow)
                    .where(ScriptVersionRow.id == row.id)
                    .values(status="retired")
                )
                await audit(
                    conn,
                    who,
                    now,
                    {"key": key, "version": version, "status": row.status},
                    {"action": "retire", "key": key, "version": version},
                )
        await self._changed()

    # --- releases -----------------------------------------------------------------

    async def set_release(self, key: str, variants: object, *, who: str) -> Release:
        """Put weighted variants in force for `key`: each names a published version of
        it, labels are unique, and not every weight is 0."""
        release = model_of(Release, {"key": key, "variants": variants}, "")
        now = self._now()
        async with self._engine.begin() as conn:
            await live_script(conn, key)
            published = (
                await conn.execute(
                    select(ScriptVersionRow.version).where(
                        ScriptVersionRow.key == key, ScriptVersionRow.status == "published"
                    )
                )
            ).scalars()
            problems = release_problems(release, set(published))
            if problems:
                raise ScriptRefused(problems)
            old = (await read_releases(conn, key)).get(key)
            await write_release(conn, release, who, now, old=old)
        await self._changed()
        return release

    # --- campaigns, rules, the fallback -------------------------------------------

    async def save_campaign(self, raw: object, *, who: str) -> Campaign:
        """Create or replace a campaign; its script must exist and not be retired, and
        a DID belongs to one campaign only."""
        campaign = model_of(Campaign, raw, "")
        now = self._now()
        async with self._engine.begin() as conn:
            problems = []
            if campaign.script is not None:
                problems += await usable(conn, campaign.script, "script")
            others = [c for c in await read_campaigns(conn) if c.key != campaign.key]
            if len(others) >= MAX_CAMPAIGNS:
                problems.append(f"at most {MAX_CAMPAIGNS} campaigns")
            taken = {did.lstrip("+"): c.key for c in others for did in c.dids}
            seen: set[str] = set()
            for i, did in enumerate(campaign.dids):
                digits = did.lstrip("+")
                if digits in taken:
                    problems.append(f"dids.{i} = {did!r}: already in campaign {taken[digits]!r}")
                if digits in seen:
                    problems.append(f"dids.{i} = {did!r}: listed twice")
                seen.add(digits)
            if problems:
                raise ScriptRefused(problems)
            old = (
                await conn.execute(
                    select(ScriptCampaignRow).where(ScriptCampaignRow.key == campaign.key)
                )
            ).first()
            values = {
                "name": campaign.name,
                "source": campaign.source,
                "dids": list(campaign.dids),
                "script": campaign.script,
                "updated_by": who,
                "updated_at": now,
            }
            if old is None:
                await conn.execute(insert(ScriptCampaignRow).values(key=campaign.key, **values))
            else:
                await conn.execute(
                    update(ScriptCampaignRow)
                    .where(ScriptCampaignRow.key == campaign.key)
                    .values(**values)
                )
            await audit(
                conn,
                who,
                now,
                {"campaign": campaign_of_row(old).model_dump(mode="json")} if old else {},
                {"action": "save_campaign", "campaign": campaign.model_dump(mode="json")},
            )
        await self._changed()
        return campaign

    async def delete_campaign(self, key: str, *, who: str) -> None:
        now = self._now()
        async with self._engine.begin() as conn:
            old = (
                await conn.execute(select(ScriptCampaignRow).where(ScriptCampaignRow.key == key))
            ).first()
            if old is None:
                raise ScriptRefused([f"campaign {key!r}: no such campaign"], 404)
            users = [r.name for r in await read_rules(conn) if r.when.campaign == key]
            if users:
                raise ScriptRefused(
                    [f"campaign {key!r} is named by rule(s) {users}: change them first"]
                )
            await conn.execute(delete(ScriptCampaignRow).where(ScriptCampaignRow.key == key))
            await audit(
                conn,
                who,
                now,
                {"campaign": campaign_of_row(old).model_dump(mode="json")},
                {"action": "delete_campaign", "campaign": key},
            )
        await self._changed()

    async def set_rules(self, raw: object, *, who: str) -> list[MatchRule]:
        """Replace the ordered rules (the first that holds wins); each names a usable
        script, and a campaign it names must exist."""
        if not isinstance(raw, list):
            raise ScriptRefused(["rules: must be a list of rules"])
        if len(raw) > MAX_RULES:
            raise ScriptRefused([f"rules: at most {MAX_RULES}, got {len(raw)}"])
        rules: list[MatchRule] = []
        problems: list[str] = []
        for i, item in enumerate(raw):
            try:
                rules.append(model_of(MatchRule, item, f"rules.{i}"))
            except ScriptRefused as refused:
                problems += refused.problems
        now = self._now()
        async with self._engine.begin() as conn:
            known = await read_campaigns(conn)
            problems += setup_problems(MatchSetup(rules=rules, campaigns=known))
            for i, rule in enumerate(rules):
                problems += await usable(conn, rule.script, f"rules.{i}.script")
            if problems:
                raise ScriptRefused(problems)
            old = await read_rules(conn)
            await conn.execute(delete(ScriptRuleRow))
            for position, rule in enumerate(rules):
                await write_rule(conn, position, rule)
            await audit(
                conn,
                who,
                now,
                {"rules": [r.model_dump(mode="json") for r in old]},
                {"action": "set_rules", "rules": [r.model_dump(mode="json") for r in rules]},
            )
        await self._changed()
        return rules

    async def set_default(self, key: str | None, *, who: str) -> None:
        """The script a call gets when no rule and no campaign names one (None: none)."""
        now = self._now()
        async with self._engine.begin() as conn:
            if key is not None:
                problems = await usable(conn, key, "default_script")
                if problems:
                    raise ScriptRefused(problems)
            old = await read_default_script(conn)
            await audit(
                conn,
                who,
                now,
                {"default_script": old},
                {"action": "set_default", "default_script": key},
                DEFAULT_KIND,
            )
        await self._changed()

    # --- what matching reads --------------------------------------------------------

    async def setup(self) -> MatchSetup:
        """Rules, campaigns, the releases of live scripts with the bodies their variants
        name, and the fallback: kept in memory, rebuilt after every change."""
        if self._setup is not None and self._setup_generation == self._generation:
            return self._setup
        generation = self._generation
        async with self._engine.connect() as conn:
            live = {
                r.key
                for r in (
                    await conn.execute(select(ScriptRow.key).where(ScriptRow.retired_at.is_(None)))
                ).all()
            }
            releases = {k: r for k, r in (await read_releases(conn)).items() if k in live}
            bodies = {}
            for key, release in releases.items():
                for variant in release.variants:
                    bodies[(key, variant.version)] = await self._body(conn, key, variant.version)
            default = await read_default_script(conn)
            built = MatchSetup(
                rules=await read_rules(conn),
                campaigns=await read_campaigns(conn),
                releases=releases,
                bodies=bodies,
                default_script=default if default in live else None,
            )
        if generation == self._generation:
            self._setup, self._setup_generation = built, generation
        return built

    async def _changed(self) -> None:
        """After a committed change: the cached setup is stale; rebuild it now. Should
        the rebuild fail (the database just went away), the change still stands and
        the next `setup()` tries again."""
        self._generation += 1
        with contextlib.suppress(SQLAlchemyError, OSError):
            await self.setup()

    async def _body(self, conn: AsyncConnection, key: str, version: int) -> Script:
        cached = self._bodies.get((key, version))
        if cached is not None:
            return cached
        row = (
            await conn.execute(
                select(ScriptVersionRow.body, ScriptVersionRow.status).where(
                    ScriptVersionRow.key == key, ScriptVersionRow.version == version
                )
            )
        ).one()
        body = Script.model_validate(row.body)
        if row.status != "draft":
            self._bodies[(key, version)] = body
        return body

    # --- calls ------------------------------------------------------------------------

    async def assign(self, call_id: str, chosen: CallScript) -> CallScript:
        """Keep the script a call got; the first assignment wins (a repeat, e.g. after a
        reconnect, returns the one stored)."""
        values = {
            "call_id": call_id,
            "key": chosen.key,
            "version": chosen.version,
            "variant": chosen.variant,
            "campaign": chosen.campaign,
            "reason": list(chosen.reason),
            "assigned_at": self._now(),
            "progress": {},
        }
        async with self._engine.begin() as conn:
            status = (
                await conn.execute(
                    select(ScriptVersionRow.status).where(
                        ScriptVersionRow.key == chosen.key,
                        ScriptVersionRow.version == chosen.version,
                    )
                )
            ).scalar()
            if status is None or status == "draft":
                raise ScriptRefused(
                    [f"script {chosen.key!r} version {chosen.version}: not a published version"]
                )
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            await conn.execute(
                dialect.insert(CallScriptRow).values(values).on_conflict_do_nothing()
            )
        stored = await self.for_call(call_id)
        assert stored is not None
        return stored

    async def for_call(self, call_id: str) -> CallScript | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(CallScriptRow).where(CallScriptRow.call_id == call_id))
            ).first()
            if row is None:
                return None
            body = await self._body(conn, row.key, row.version)
        return CallScript(
            key=row.key,
            version=row.version,
            variant=row.variant,
            name=body.name,
            language=body.language,
            campaign=row.campaign,
            reason=list(row.reason),
            body=body,
        )

    async def progress(self, call_id: str) -> dict[str, Any] | None:
        """The agent's marks on the call's script (None: the call has no script)."""
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(
                    select(CallScriptRow.progress).where(CallScriptRow.call_id == call_id)
                )
            ).first()
        return dict(value.progress) if value is not None else None

    async def save_progress(
        self, call_id: str, progress: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge `progress` (top-level keys replace) into the call's marks: stage,
        questions asked, price asks, no-next-step reason... None: the call has no script."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(CallScriptRow.progress)
                    .where(CallScriptRow.call_id == call_id)
                    .with_for_update()
                )
            ).first()
            if row is None:
                return None
            merged = {**row.progress, **progress}
            if len(merged) > MAX_PROGRESS_KEYS:
                raise ScriptRefused([f"progress: at most {MAX_PROGRESS_KEYS} keys"], 400)
            await conn.execute(
                update(CallScriptRow)
                .where(CallScriptRow.call_id == call_id)
                .values(progress=merged)
            )
        return merged

    async def conversion(
        self,
        key: str | None,
        since: datetime,
        until: datetime,
        *,
        agent: str | None = None,
        did: str | None = None,
    ) -> list[VariantConversion]:
        """Per version and variant of `key` (None: of every script), the calls assigned
        in [since, until) and their outcomes; `agent` and `did` keep the calls that
        agent answered or that came in on that DID (see `script_conversion`)."""
        async with self._engine.connect() as conn:
            return await conversion(conn, key, since, until, agent=agent, did=did)

    # --- first start ----------------------------------------------------------------

    async def load_defaults(
        self,
        library: Sequence[Script],
        demo_dids: Mapping[str, Language] | None = None,
        *,
        who: str = SYSTEM,
    ) -> Defaults:
        """The library on first start; the demo's campaigns and rule (see
        `script_defaults`). Safe to call on every start."""
        async with self._engine.begin() as conn:
            added = await load_defaults(conn, library, demo_dids, who=who, now=self._now())
        if added.scripts or added.campaigns or added.rules:
            await self._changed()
        return added
