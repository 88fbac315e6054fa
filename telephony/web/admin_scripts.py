"""Admins edit scripts, release their variants and say which calls get which script;
supervisors and admins read each variant's conversion.

A script is saved as a draft (validated: every problem named by its place), published
as a version that never changes again (calls in progress keep theirs), released to
calls in weighted variants (A = v1 50, B = v2 50), retired; imported and exported as
YAML or JSON. Campaigns (the DIDs of one advert) and the ordered rules name scripts;
every change is audited (who, when, old, new) and in force for the next call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from telephony.scripts import template
from telephony.scripts.library import FORMATS, Format, export, load_text
from telephony.scripts.model import KEY_PATTERN, Script
from telephony.scripts.validate import ScriptRejected, parse, warnings
from telephony.store.scripts import ScriptRefused, ScriptStore
from telephony.web.access import current_session, requires
from telephony.web.bodies import BadBody, json_object

SCRIPTS_KEY = web.AppKey("scripts", ScriptStore)
_PAGE_KEY = web.AppKey("admin_scripts_page", Path)

MAX_SCRIPT_BYTES = 256 * 1024
MAX_IMPORT_BYTES = 512 * 1024
MAX_SMALL_BYTES = 16 * 1024
MAX_RULES_BYTES = 128 * 1024
MAX_PERIOD_DAYS = 366
SAMPLE: dict[str, str] = {
    "agent.first_name": "Ayşe",
    "caller.name": "Ali Vural",
    "caller.number": "+905321112233",
    "company.name": "Usta Ahşap",
    "company.activity": "mobilya atölyesi",
}

log = structlog.get_logger(__name__)


def add_script_routes(app: web.Application, *, scripts: ScriptStore, page: Path) -> None:
    app[SCRIPTS_KEY] = scripts
    app[_PAGE_KEY] = page
    app.router.add_get("/admin/scripts", scripts_page)
    app.router.add_get("/api/admin/scripts", get_scripts)
    app.router.add_post("/api/admin/scripts/preview", post_preview)
    app.router.add_post("/api/admin/scripts/import", post_import)
    app.router.add_get("/api/admin/scripts/{key}", get_script)
    app.router.add_get("/api/admin/scripts/{key}/export", get_export)
    app.router.add_put("/api/admin/scripts/{key}/draft", put_draft)
    app.router.add_post("/api/admin/scripts/{key}/publish", post_publish)
    app.router.add_post("/api/admin/scripts/{key}/retire", post_retire)
    app.router.add_put("/api/admin/scripts/{key}/release", put_release)
    app.router.add_put("/api/admin/campaigns/{key}", put_campaign)
    app.router.add_delete("/api/admin/campaigns/{key}", delete_campaign)
    app.router.add_put("/api/admin/script-rules", put_rules)
    app.router.add_put("/api/admin/script-default", put_default)
    app.router.add_get("/api/scripts/conversion", get_conversion)


class _Bad(Exception):
    def __init__(self, status: int, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.response = web.json_response({"errors": problems}, status=status)


def _refused(refused: ScriptRefused | ScriptRejected) -> web.Response:
    status = refused.status if isinstance(refused, ScriptRefused) else 422
    return web.json_response({"errors": refused.problems}, status=status)


def _key(request: web.Request) -> str:
    key = request.match_info["key"]
    if not KEY_PATTERN.match(key):
        raise _Bad(
            400,
            [f"key = {key[:60]!r}: 1-40 lowercase letters, digits or _, starting with a letter"],
        )
    return key


def _only(
    body: Mapping[str, Any], allowed: tuple[str, ...], required: tuple[str, ...] = ()
) -> None:
    problems = [
        f"{name[:40]}: unknown field; accepted: {list(allowed)}"
        for name in body
        if name not in allowed
    ]
    problems += [f"{name}: required" for name in required if name not in body]
    if problems:
        raise _Bad(400, problems)


def _version(body: Mapping[str, Any]) -> int | None:
    value = body.get("version")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _Bad(400, [f"version = {value!r:.40}: a version number (1, 2, ...)"])
    return value


async def _body(request: web.Request, max_bytes: int, what: str) -> dict[str, Any]:
    try:
        return await json_object(request, max_bytes=max_bytes, what=what, empty_ok=True)
    except BadBody as bad:
        raise _Bad(bad.response.status, [str(bad)]) from None


def _who(request: web.Request) -> str:
    return current_session(request).username


# --- pages and reads -----------------------------------------------------------------


@requires("admin")
async def scripts_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[_PAGE_KEY])


@requires("admin")
async def get_scripts(request: web.Request) -> web.Response:
    store = request.app[SCRIPTS_KEY]
    return web.json_response(
        {
            "scripts": [s.as_json() for s in await store.scripts()],
            "campaigns": [c.model_dump(mode="json") for c in await store.campaigns()],
            "rules": [r.model_dump(mode="json") for r in await store.rules()],
            "default_script": await store.default_script(),
            "history": [h.as_json() for h in await store.history(limit=30)],
        }
    )


@requires("admin")
async def get_script(request: web.Request) -> web.Response:
    store = request.app[SCRIPTS_KEY]
    try:
        key = _key(request)
        version = _query_version(request)
        info = await store.script(key)
        shown, body = await store.version(key, version)
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    return web.json_response(
        {
            "script": info.as_json(),
            "version": shown.as_json(),
            # Fields left at their defaults are left out: what the admin edits is short.
            "body": body.model_dump(mode="json", exclude_defaults=True),
            "warnings": warnings(body),
            "history": [h.as_json() for h in await store.history(key, limit=30)],
        }
    )


def _query_version(request: web.Request) -> int | None:
    raw = request.query.get("version")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise _Bad(400, [f"version = {raw[:20]!r}: a version number (1, 2, ...)"])
    return int(raw)


def _query_format(request: web.Request) -> Format:
    fmt = request.query.get("format", "yaml")
    if fmt == "yaml":
        return "yaml"
    if fmt == "json":
        return "json"
    raise _Bad(400, [f"format = {fmt[:20]!r}: one of {list(FORMATS)}"])


@requires("admin")
async def get_export(request: web.Request) -> web.Response:
    """A version's body as a YAML or JSON file (default: the newest version)."""
    try:
        key = _key(request)
        fmt = _query_format(request)
        shown, body = await request.app[SCRIPTS_KEY].version(key, _query_version(request))
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    name = f"{key}-v{shown.version}.{fmt}"
    return web.Response(
        text=export(body, fmt),
        content_type="application/json" if fmt == "json" else "application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- versions -------------------------------------------------------------------------


@requires("admin")
async def put_draft(request: web.Request) -> web.Response:
    """The body is the script itself; its key must be the one in the path."""
    try:
        key = _key(request)
        raw = await _body(request, MAX_SCRIPT_BYTES, "the script object")
        if raw.get("key") != key:
            raise _Bad(
                400,
                [f"key = {str(raw.get('key'))[:60]!r}: must be {key!r}, the script in the path"],
            )
        saved, warned = await request.app[SCRIPTS_KEY].save_draft(raw, who=_who(request))
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    log.info("scripts.draft_saved", key=key, version=saved.version, who=saved.created_by)
    return web.json_response({"version": saved.as_json(), "warnings": warned})


@requires("admin")
async def post_import(request: web.Request) -> web.Response:
    """`{"format": "yaml"|"json", "text": ...}`: saved as the script's draft."""
    try:
        raw = await _body(request, MAX_IMPORT_BYTES, "the import object")
        _only(raw, ("format", "text"), ("format", "text"))
        fmt, text = raw["format"], raw["text"]
        if fmt not in FORMATS:
            raise _Bad(400, [f"format = {str(fmt)[:20]!r}: one of {list(FORMATS)}"])
        if not isinstance(text, str):
            raise _Bad(400, ["text: the file's content, as a string"])
        data = load_text(text, fmt)
        if not isinstance(data, dict):
            raise _Bad(422, ["the file must hold one script (a mapping with key, name, stages...)"])
        saved, warned = await request.app[SCRIPTS_KEY].save_draft(data, who=_who(request))
    except _Bad as bad:
        return bad.response
    except (ScriptRefused, ScriptRejected) as refused:
        return _refused(refused)
    log.info("scripts.imported", key=saved.key, version=saved.version, who=saved.created_by)
    return web.json_response({"version": saved.as_json(), "warnings": warned})


@requires("admin")
async def post_publish(request: web.Request) -> web.Response:
    """`{"version": n}` optional: the draft's number, to publish what the admin saw."""
    try:
        key = _key(request)
        raw = await _body(request, MAX_SMALL_BYTES, "the publish object")
        _only(raw, ("version",))
        published = await request.app[SCRIPTS_KEY].publish(
            key, who=_who(request), version=_version(raw)
        )
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    log.info("scripts.published", key=key, version=published.version, who=published.published_by)
    release = await request.app[SCRIPTS_KEY].release(key)
    return web.json_response(
        {
            "version": published.as_json(),
            "release": release.model_dump(mode="json") if release else None,
        }
    )


@requires("admin")
async def post_retire(request: web.Request) -> web.Response:
    """`{}`: the whole script; `{"version": n}`: one version."""
    try:
        key = _key(request)
        raw = await _body(request, MAX_SMALL_BYTES, "the retire object")
        _only(raw, ("version",))
        version = _version(raw)
        await request.app[SCRIPTS_KEY].retire(key, who=_who(request), version=version)
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    log.info("scripts.retired", key=key, version=version, who=_who(request))
    return web.json_response({"key": key, "version": version, "retired": True})


@requires("admin")
async def put_release(request: web.Request) -> web.Response:
    """`{"variants": [{"label": "A", "version": 1, "weight": 50}, ...]}`."""
    try:
        key = _key(request)
        raw = await _body(request, MAX_SMALL_BYTES, "the release object")
        _only(raw, ("variants",), ("variants",))
        release = await request.app[SCRIPTS_KEY].set_release(
            key, raw["variants"], who=_who(request)
        )
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    log.info("scripts.released", key=key, variants=len(release.variants), who=_who(request))
    return web.json_response({"release": release.model_dump(mode="json")})


@requires("admin")
async def post_preview(request: web.Request) -> web.Response:
    """`{"script": {...}, "sample": {"caller.name": "...", "captured.budget": "..."}}`:
    the script's words rendered as plain text with sample values (nothing is saved)."""
    try:
        raw = await _body(request, MAX_SCRIPT_BYTES, "the preview object")
        _only(raw, ("script", "sample"), ("script",))
        sample = raw.get("sample", {})
        if not isinstance(sample, dict) or len(sample) > 100:
            raise _Bad(400, ["sample: an object of at most 100 names to strings"])
        bad = [
            f"sample.{str(name)[:40]} = {value!r:.40}: a string of at most 200 characters"
            for name, value in sample.items()
            if not isinstance(value, str) or len(value) > 200
        ]
        if bad:
            raise _Bad(400, bad)
        script = parse(raw["script"])
    except _Bad as bad:
        return bad.response
    except ScriptRejected as rejected:
        return _refused(rejected)
    values = {**SAMPLE, **sample}
    return web.json_response({"preview": preview(script, values), "warnings": warnings(script)})


def preview(script: Script, values: Mapping[str, str]) -> dict[str, Any]:
    """Every template of the script rendered as plain text (the page shows it with
    textContent); captured fields without a sample show their label in brackets."""
    fields = {f.key: f for stage in script.stages for f in stage.captures}
    filled = {f"captured.{k}": f"[{f.label}]" for k, f in fields.items()}
    filled.update(values)

    def render(text: str) -> str:
        return template.render(text, filled)

    return {
        "key": script.key,
        "name": script.name,
        "language": script.language,
        "stages": [
            {
                "id": stage.id,
                "kind": stage.kind,
                "title": stage.title,
                "say": [render(t) for t in stage.say],
                "hints": [render(t) for t in stage.hints],
                "questions": [{"kind": q.kind, "text": render(q.text)} for q in stage.questions],
                "captures": [
                    {"key": f.key, "label": f.label, "type": f.type} for f in stage.captures
                ],
                "branches": [
                    {"field": b.field, "equals": b.equals, "to": b.to} for b in stage.branches
                ],
                "next": stage.next,
            }
            for stage in script.stages
        ],
        "objections": [
            {"title": o.title, "say": [render(t) for t in o.say]} for o in script.objections
        ],
    }


# --- campaigns, rules, the fallback ------------------------------------------------------


@requires("admin")
async def put_campaign(request: web.Request) -> web.Response:
    try:
        key = _key(request)
        raw = await _body(request, MAX_SMALL_BYTES, "the campaign object")
        if raw.get("key", key) != key:
            raise _Bad(
                400,
                [f"key = {str(raw.get('key'))[:60]!r}: must be {key!r}, the campaign in the path"],
            )
        campaign = await request.app[SCRIPTS_KEY].save_campaign(
            {**raw, "key": key}, who=_who(request)
        )
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    log.info("scripts.campaign_saved", key=key, who=_who(request))
    return web.json_response({"campaign": campaign.model_dump(mode="json")})


@requires("admin")
async def delete_campaign(request: web.Request) -> web.Response:
    try:
        key = _key(request)
        await request.app[SCRIPTS_KEY].delete_campaign(key, who=_who(request))
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    log.info("scripts.campaign_deleted", key=key, who=_who(request))
    return web.json_response({"key": key, "deleted": True})


@requires("admin")
async def put_rules(request: web.Request) -> web.Response:
    """`{"rules": [{"name", "when": {...}, "script"}, ...]}` in order: replaces them all."""
    try:
        raw = await _body(request, MAX_RULES_BYTES, "the rules object")
        _only(raw, ("rules",), ("rules",))
        rules = await request.app[SCRIPTS_KEY].set_rules(raw["rules"], who=_who(request))
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    log.info("scripts.rules_saved", rules=len(rules), who=_who(request))
    return web.json_response({"rules": [r.model_dump(mode="json") for r in rules]})


@requires("admin")
async def put_default(request: web.Request) -> web.Response:
    """`{"script": key}` (or null): what a call gets when no rule or campaign names one."""
    try:
        raw = await _body(request, MAX_SMALL_BYTES, "the fallback object")
        _only(raw, ("script",), ("script",))
        key = raw["script"]
        if key is not None and (not isinstance(key, str) or not KEY_PATTERN.match(key)):
            raise _Bad(400, [f"script = {key!r:.60}: a script key, or null"])
        await request.app[SCRIPTS_KEY].set_default(key, who=_who(request))
    except _Bad as bad:
        return bad.response
    except ScriptRefused as refused:
        return _refused(refused)
    log.info("scripts.default_set", script=key, who=_who(request))
    return web.json_response({"default_script": key})


# --- conversion -----------------------------------------------------------------------------


@requires("supervisor", "admin")
async def get_conversion(request: web.Request) -> web.Response:
    """`?key=&since=&until=` (dates; default the last 30 days; key absent: every
    script): per version and variant, calls, outcomes and sales ÷ calls with its 95%
    Wilson interval."""
    query = request.query
    try:
        unknown = sorted(set(query) - {"key", "since", "until"})
        if unknown:
            raise _Bad(
                400, [f"{name}: unknown parameter; accepted: key, since, until" for name in unknown]
            )
        key = query.get("key") or None
        if key is not None and not KEY_PATTERN.match(key):
            raise _Bad(400, [f"key = {key[:60]!r}: a script key"])
        until = _day("until", query.get("until")) or _midnight(datetime.now(UTC)) + timedelta(
            days=1
        )
        since = _day("since", query.get("since")) or until - timedelta(days=30)
        if since >= until or until - since > timedelta(days=MAX_PERIOD_DAYS):
            raise _Bad(400, [f"since..until: at most {MAX_PERIOD_DAYS} days, since before until"])
    except _Bad as bad:
        return bad.response
    rows = await request.app[SCRIPTS_KEY].conversion(key, since, until)
    return web.json_response(
        {
            "key": key,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "variants": [r.as_json() for r in rows],
        }
    )


def _midnight(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _day(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(400, [f"{name} = {value[:40]!r}: a date like 2026-11-27"]) from None
    return day if day.tzinfo else day.replace(tzinfo=UTC)
