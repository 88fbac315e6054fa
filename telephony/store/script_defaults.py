"""The first start: the shipped library as published scripts, and the demo's campaigns
and rule (each only when not there yet, so it is safe on every start)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from telephony.scripts.model import Campaign, Language, MatchRule, Release, Script
from telephony.store.models import ScriptCampaignRow, ScriptRow, ScriptVersionRow
from telephony.store.script_records import (
    DEFAULT_KIND,
    Defaults,
    audit,
    read_campaigns,
    read_default_script,
    read_rules,
    write_release,
    write_rule,
)


async def load_defaults(
    conn: AsyncConnection,
    library: Sequence[Script],
    demo_dids: Mapping[str, Language] | None = None,
    *,
    who: str,
    now: datetime,
) -> Defaults:
    """On first start (no script stored): the library as published version 1 of
    each script, each released to all calls (variant A), the first inbound sale as
    the fallback. Given the demo's DIDs (DID → language): a campaign per DID not yet
    in one, with the library's inbound sale in that language, and a rule per DID for
    a returning caller with an open deal. Safe to call on every start."""
    added = Defaults()
    if (await conn.execute(select(func.count()).select_from(ScriptRow))).scalar() == 0:
        for script in library:
            await conn.execute(
                insert(ScriptRow).values(
                    key=script.key,
                    name=script.name,
                    language=script.language,
                    created_by=who,
                    created_at=now,
                )
            )
            await conn.execute(
                insert(ScriptVersionRow).values(
                    key=script.key,
                    version=1,
                    body=script.model_dump(mode="json"),
                    status="published",
                    created_by=who,
                    created_at=now,
                    published_by=who,
                    published_at=now,
                )
            )
            release = Release.model_validate(
                {
                    "key": script.key,
                    "variants": [{"label": "A", "version": 1, "weight": 100}],
                }
            )
            await write_release(conn, release, who, now, old=None, audited=False)
            added.scripts.append(script.key)
        fallback = pick(library, "tr", ("inbound_sale", "inbound")) or (
            library[0].key if library else None
        )
        await audit(
            conn,
            who,
            now,
            {},
            {"action": "load_defaults", "scripts": added.scripts},
        )
        if fallback is not None and await read_default_script(conn) is None:
            await audit(
                conn,
                who,
                now,
                {"default_script": None},
                {"action": "set_default", "default_script": fallback},
                DEFAULT_KIND,
            )
    live = {
        r.key
        for r in (
            await conn.execute(select(ScriptRow.key).where(ScriptRow.retired_at.is_(None)))
        ).all()
    }
    usable = [s for s in library if s.key in live]
    campaigns = await read_campaigns(conn)
    taken = {did for c in campaigns for did in c.dids}
    rules = await read_rules(conn)
    names = {r.name for r in rules}
    for did, language in (demo_dids or {}).items():
        sale = pick(usable, language, ("inbound_sale", "inbound"))
        key = f"demo_{did}"[:40]
        if did not in taken and sale and key not in {c.key for c in campaigns}:
            campaign = Campaign(
                key=key,
                name=f"Demo advert {did} ({language})",
                source="demo",
                dids=[did],
                script=sale,
            )
            await conn.execute(
                insert(ScriptCampaignRow).values(
                    key=campaign.key,
                    name=campaign.name,
                    source=campaign.source,
                    dids=list(campaign.dids),
                    script=campaign.script,
                    updated_by=who,
                    updated_at=now,
                )
            )
            await audit(
                conn,
                who,
                now,
                {},
                {"action": "save_campaign", "campaign": campaign.model_dump(mode="json")},
            )
            added.campaigns.append(campaign.key)
        follow_up = pick(usable, language, ("meeting", "follow")) or sale
        name = f"Returning caller with an open deal on {did}"
        if follow_up and name not in names:
            rule = MatchRule.model_validate(
                {
                    "name": name,
                    "when": {"did": did, "history": ["open_deal"]},
                    "script": follow_up,
                }
            )
            position = len(rules)
            await write_rule(conn, position, rule)
            await audit(
                conn,
                who,
                now,
                {},
                {
                    "action": "add_rule",
                    "position": position,
                    "rule": rule.model_dump(mode="json"),
                },
            )
            rules.append(rule)
            names.add(name)
            added.rules.append(name)
    return added


def pick(library: Iterable[Script], language: str, prefer: Sequence[str]) -> str | None:
    """The key of the library's first script in `language` whose key contains one of
    `prefer` (in that order of preference)."""
    candidates = [s for s in library if s.language == language]
    for word in prefer:
        for script in candidates:
            if word in script.key:
                return script.key
    return None
