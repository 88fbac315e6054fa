"""Which script a call gets, by ordered rules that explain themselves.

The candidates, in order: each rule whose given conditions all hold (did, campaign,
ivr_tag, history, language, hours); then the script of the campaign owning the DID;
then the setup's default script. `match` is the first candidate. `choose` walks the
candidates and takes the first that can be served (released, a variant with weight, the
body of that variant's version present); one that cannot is skipped and the skip is
written into the reason, so a broken release degrades to the next choice, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from telephony.scripts.model import (
    CallFacts,
    CallScript,
    Campaign,
    MatchRule,
    MatchSetup,
    MatchWhen,
)
from telephony.scripts.variants import NoVariant, assign, share_percent

_DID = re.compile(r"^\+?[0-9]{3,20}$")


@dataclass(frozen=True)
class Match:
    script: str
    campaign: str | None
    rule: str | None  # the rule's name; None for the campaign's script or the default
    reason: tuple[str, ...]


def _digits(did: str) -> str:
    return did.lstrip("+")


def campaign_of(setup: MatchSetup, did: str) -> Campaign | None:
    """The campaign whose DIDs include this one (a leading '+' is ignored)."""
    if not did:
        return None
    wanted = _digits(did)
    for campaign in setup.campaigns:
        if any(_digits(d) == wanted for d in campaign.dids):
            return campaign
    return None


def in_hours(hours: tuple[int, int], hour: int) -> bool:
    """[from, to) of local hours; from > to wraps past midnight; from == to is all day."""
    start, end = hours
    if start == end:
        return True
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def holds(when: MatchWhen, facts: CallFacts, campaign: Campaign | None) -> bool:
    """Whether every condition a rule gives holds for this call."""
    if when.did is not None and _digits(when.did) != _digits(facts.did):
        return False
    if when.campaign is not None and (campaign is None or campaign.key != when.campaign):
        return False
    if when.ivr_tag is not None and when.ivr_tag != facts.ivr_tag:
        return False
    if when.history and facts.history not in when.history:
        return False
    if when.language is not None and when.language != facts.language:
        return False
    return when.hours is None or (
        facts.local_hour is not None and in_hours(when.hours, facts.local_hour)
    )


def _head(facts: CallFacts, campaign: Campaign | None) -> list[str]:
    head = [f"DID {facts.did}"] if facts.did else ["no DID"]
    if campaign is not None:
        head.append(f"campaign '{campaign.name}'")
    return head


def candidates(setup: MatchSetup, facts: CallFacts) -> Iterator[Match]:
    """Every script this call could get, best first, each with why."""
    campaign = campaign_of(setup, facts.did)
    head = _head(facts, campaign)
    key = campaign.key if campaign else None
    for rule in setup.rules:
        if holds(rule.when, facts, campaign):
            yield Match(rule.script, key, rule.name, (*head, f"rule '{rule.name}'"))
    if campaign is not None and campaign.script is not None:
        yield Match(campaign.script, key, None, (*head, "the campaign's script"))
    if setup.default_script is not None:
        why = "no rule or campaign script matched" if campaign is None else "the default script"
        yield Match(setup.default_script, key, None, (*head, why))


def match(setup: MatchSetup, facts: CallFacts) -> Match | None:
    """The first candidate (released or not), or None when nothing applies."""
    return next(candidates(setup, facts), None)


def choose(setup: MatchSetup, facts: CallFacts) -> CallScript | None:
    """The script, version and variant this call gets, with the reason; None if none can be."""
    skipped: list[str] = []
    for found in candidates(setup, facts):
        release = setup.releases.get(found.script)
        if release is None:
            skipped.append(f"script {found.script!r} skipped: not released")
            continue
        try:
            share = assign(facts.call_id, release)
        except NoVariant:
            skipped.append(f"script {found.script!r} skipped: every variant has weight 0")
            continue
        body = setup.bodies.get((found.script, share.version))
        if body is None:
            skipped.append(f"script {found.script!r} skipped: version {share.version} has no body")
            continue
        reason = [
            *found.reason,
            *skipped,
            f"script '{body.name}' v{share.version}",
            f"variant {share.label} ({share_percent(release, share)}%)",
        ]
        return CallScript(
            key=found.script,
            version=share.version,
            variant=share.label,
            name=body.name,
            language=body.language,
            campaign=found.campaign,
            reason=reason,
            body=body,
        )
    return None


def setup_problems(setup: MatchSetup) -> list[str]:
    """What an admin must fix in a setup: hours out of range, unknown references."""
    found: list[str] = []
    campaigns = [c.key for c in setup.campaigns]
    owners: dict[str, str] = {}
    for campaign in setup.campaigns:
        for did in campaign.dids:
            other = owners.setdefault(_digits(did), campaign.key)
            if other != campaign.key:
                found.append(f"DID {did} belongs to both {other!r} and {campaign.key!r}")
    for i, rule in enumerate(setup.rules):
        found += _rule_problems(f"rules[{i}] '{rule.name}'", rule, campaigns)
    return found


def _rule_problems(at: str, rule: MatchRule, campaigns: list[str]) -> list[str]:
    found: list[str] = []
    hours = rule.when.hours
    if hours is not None and not (0 <= hours[0] <= 23 and 0 <= hours[1] <= 24):
        found.append(f"{at}.when.hours = {list(hours)}: hours are 0-23 (to may be 24)")
    if rule.when.did is not None and not _DID.fullmatch(rule.when.did):
        found.append(f"{at}.when.did = {rule.when.did!r}: 3-20 digits, '+' first allowed")
    if rule.when.campaign is not None and rule.when.campaign not in campaigns:
        found.append(
            f"{at}.when.campaign = {rule.when.campaign!r}: no such campaign; campaigns: {campaigns}"
        )
    return found
