"""The job bodies. Each is `task(runner, job, run_key, now) -> result dict` and raises on
failure (the runner records the error; the next fire time tries again) or `Skip` when there
was nothing to do. Sends only ever go into the outbox, with a key derived from the run key."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..paths import private_dir, private_file
from ..pipeline.pacing import Pacer
from ..storage.db import connect
from ..storage.queries import Store
from .runner import Job, JobRunner, Skip

DAY = 86_400.0
DEFAULT_FOLLOWUP = "您好，之前您咨询的问题我们一直记着，店主已经在跟进了，有什么需要随时告诉我们。"


def _quiet_wait(runner: JobRunner, now: float) -> float:
    """Proactive messages never go out in quiet hours, paced channel or not."""
    return Pacer(runner.settings.pacing).until_quiet_end(now)


def _personal(text: str, customer: Any) -> str:
    return text.replace("{name}", customer["remark"] or customer["name"] or "")


# -- broadcast ----------------------------------------------------------------------------------


def broadcast(runner: JobRunner, job: Job, key: str, now: float) -> dict[str, Any]:
    """params: text (may use {name}), tags (list; empty = everyone), match any|all, channel."""
    p = job.params
    text = str(p.get("text", "")).strip()
    if not text:
        raise InputError(f"broadcast {job.name}: no text")
    tags = [str(t) for t in p.get("tags", [])]
    match_all = p.get("match", "any") == "all"
    s = runner.settings.jobs
    not_before = now + _quiet_wait(runner, now)

    def queue(store: Store) -> dict[str, Any]:
        out = {"queued": 0, "already": 0, "opted_out": 0, "customer_cap": 0, "daily_cap": 0,
               "paused": 0, "not_before": not_before}
        budget = (s.broadcast_daily_cap - store.proactive_since(now - DAY)
                  if s.broadcast_daily_cap else 1 << 30)
        for c in store.broadcast_audience(p.get("channel") or None):
            have = set(json.loads(c["tags"] or "[]"))
            if tags and not (have.issuperset(tags) if match_all else have & set(tags)):
                continue
            if store.is_group_chat(c["channel"], c["chat"]):
                continue
            send_key = f"{key}:c{c['id']}"
            held = _held_back(store, c, send_key, now, s.per_customer_daily)
            if held:
                out[held] += 1
                continue
            if budget <= 0:
                out["daily_cap"] += 1
                continue
            rid = store.add_reply(
                message_id=None, run_key=send_key, customer_id=c["id"], channel=c["channel"],
                chat=c["chat"], text=_personal(text, c), kind="broadcast", tier=None,
                reason=f"job:{job.name}", model=None, trace={"job": job.name, "run": key},
                latency_ms=None, now=now, not_before=not_before)
            if rid:
                out["queued"] += 1
                budget -= 1
        out["opted_out"] = _count_opted_out(store, tags, match_all)
        store.event("job-broadcast", now, job=job.name, run=key, queued=out["queued"])
        return out

    return runner.write(queue)


def _held_back(store: Store, c: Any, send_key: str, now: float,
               per_customer_daily: int) -> str | None:
    """Why a proactive message to customer `c` must not be queued now (the counter to bump),
    or None: already queued under this key, AI paused for them, or their daily cap reached."""
    if store.run_key_used(send_key):
        return "already"
    if c["paused_until"] and c["paused_until"] > now:
        return "paused"
    if per_customer_daily and store.proactive_since(now - DAY, c["id"]) >= per_customer_daily:
        return "customer_cap"
    return None


def _count_opted_out(store: Store, tags: list[str], match_all: bool) -> int:
    n = 0
    for c in store.opted_out_customers():
        have = set(json.loads(c["tags"] or "[]"))
        if not tags or (have.issuperset(tags) if match_all else have & set(tags)):
            n += 1
    return n


# -- follow-up ----------------------------------------------------------------------------------


def followup(runner: JobRunner, job: Job, key: str, now: float) -> dict[str, Any]:
    """params: after_hours (default 4), window_hours (default 24), text."""
    p = job.params
    after = float(p.get("after_hours", 4)) * 3600
    window = float(p.get("window_hours", 24)) * 3600
    text = str(p.get("text") or DEFAULT_FOLLOWUP)
    s = runner.settings.jobs
    not_before = now + _quiet_wait(runner, now)

    def queue(store: Store) -> dict[str, Any]:
        out = {"queued": 0, "already": 0, "customer_cap": 0, "paused": 0}
        for m in store.followup_candidates(now - after - window, now - after):
            c = store.customer_row(m["customer_id"])
            send_key = f"followup:m{m['message_id']}"  # one follow-up per question, ever
            held = _held_back(store, c, send_key, now, s.per_customer_daily)
            if held:
                out[held] += 1
                continue
            if store.add_reply(
                    message_id=None, run_key=send_key, customer_id=c["id"],
                    channel=m["channel"], chat=m["chat"], text=_personal(text, c),
                    kind="followup", tier=None, reason=f"job:{job.name}", model=None,
                    trace={"job": job.name, "run": key, "question": m["message_id"]},
                    latency_ms=None, now=now, not_before=not_before):
                out["queued"] += 1
        return out

    return runner.write(queue)


# -- daily summary ------------------------------------------------------------------------------


def summary(runner: JobRunner, job: Job, key: str, now: float) -> dict[str, Any]:
    """params: hours (default 24). Writes reports/summary-<date>.md and .json; sends a short
    version to settings.jobs.owner_chat when set."""
    hours = float(job.params.get("hours", 24))
    since = now - hours * 3600
    data = runner.write(lambda s: s.day_summary(since, now))
    text = summary_text(runner.settings.shop.name, since, now, data)
    reports = runner.paths.reports
    reports.mkdir(parents=True, exist_ok=True)
    stem = f"summary-{datetime.fromtimestamp(now):%Y-%m-%d}"
    _atomic_write(reports / f"{stem}.md", text)
    _atomic_write(reports / f"{stem}.json", json.dumps(
        {"since": since, "until": now, **data}, ensure_ascii=False, indent=1))
    out = {"file": str(reports / f"{stem}.md"), "messages": data["messages"],
           "handoffs": data["handoffs"], "unanswered": len(data["unanswered"])}
    s = runner.settings
    if s.jobs.owner_chat:
        channel = s.jobs.owner_channel or s.channel.name
        short = text.split("\n## 未解答")[0].strip()
        rid = runner.write(lambda st: st.add_reply(
            message_id=None, run_key=f"{key}:owner", customer_id=None, channel=channel,
            chat=s.jobs.owner_chat, text=short[:600], kind="report", tier=None,
            reason=f"job:{job.name}", model=None, trace={"job": job.name}, latency_ms=None,
            now=now, not_before=now))
        out["sent_to_owner"] = bool(rid)
    return out


TIER_NAMES = {"rule": "规则", "faq": "FAQ", "local": "本地模型", "cloud": "云端",
              "handoff": "转人工", "fallback": "待确认", "manual": "人工", "broadcast": "群发",
              "followup": "回访", "welcome": "欢迎语", "report": "小结"}


def summary_text(shop: str, since: float, until: float, data: dict[str, Any]) -> str:
    lines = [f"# {shop} 客服小结",
             f"{datetime.fromtimestamp(since):%m-%d %H:%M} – {datetime.fromtimestamp(until):%m-%d %H:%M}",
             "",
             f"- 顾客消息：{data['messages']} 条",
             "- 回复：" + ("、".join(f"{TIER_NAMES.get(k, k)} {v}" for k, v in
                                   data["by_tier"].items()) or "无"),
             f"- 转人工：{data['handoffs']} 次（仍待处理 {data['open_handoffs']}）",
             f"- 未解答问题：{len(data['unanswered'])} 个",
             "- 最忙时段：" + ("、".join(f"{h['hour']:02d}点({h['messages']}条)"
                                     for h in data["busiest_hours"]) or "无")]
    if data["unanswered"]:
        lines += ["", "## 未解答的问题"]
        lines += [f"- {u['customer']}：{u['text'][:80]}" for u in data["unanswered"][:30]]
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# -- catalog sync -------------------------------------------------------------------------------


def catalog(runner: JobRunner, job: Job, key: str, now: float) -> dict[str, Any]:
    """params: source (file path or http(s) URL), name (the catalog's name in the knowledge
    base, default 'erp-catalog')."""
    from .catalog import load_catalog

    source = str(job.params.get("source", "")).strip()
    if not source:
        raise InputError(f"catalog job {job.name}: no source (a file path or URL)")
    rows = load_catalog(source, timeout_s=runner.settings.jobs.http_timeout_s,
                        transport=runner.http_transport)
    name = str(job.params.get("name") or "erp-catalog")
    changes = runner.knowledge().upsert_products(rows, source=name)
    price_changes = [c for c in changes if c["old_price"] is not None]
    added = [c["name"] for c in changes if c["old_price"] is None]
    if changes:
        runner.write(lambda s: s.event("catalog-sync", now, job=job.name, run=key,
                                       products=len(rows), added=added[:50],
                                       price_changes=price_changes[:50]))
    return {"products": len(rows), "added": len(added), "price_changes": price_changes[:50]}


# -- knowledge-folder watch ---------------------------------------------------------------------


def _stamps(folder: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith((".", "~$")):
                continue
            path = Path(root) / name
            try:
                st = path.stat()
            except OSError:
                continue
            out[str(path.relative_to(folder))] = [st.st_mtime, st.st_size]
    return out


def watch(runner: JobRunner, job: Job, key: str, now: float) -> dict[str, Any]:
    """params: folder (default settings.knowledge.folder). Re-ingests files whose time or size
    changed, drops files that disappeared; a file that failed is tried again next time."""
    folder = str(job.params.get("folder") or runner.settings.knowledge.folder).strip()
    if not folder:
        raise Skip("no knowledge folder set (settings: knowledge.folder)")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"knowledge folder {root} not found")
    before = job.state.get("stamps", {})
    now_stamps = _stamps(root)
    changed = [name for name, st in now_stamps.items() if before.get(name) != st]
    gone = [name for name in before if name not in now_stamps]
    if not changed and not gone:
        raise Skip("no changes")
    kb = runner.knowledge()
    out: dict[str, Any] = {"changed": len(changed), "removed": 0, "lines": []}
    if changed:
        report = kb.add([root / name for name in sorted(changed)])
        out["lines"] = report.lines()[:50]
        for r in report.errors:
            now_stamps.pop(str(Path(r.path).relative_to(root)), None)
        out["errors"] = len(report.errors)
    if gone:
        known = {f["source"] for f in kb.files()}
        removed, _ = kb.remove([Path(n).name for n in gone if Path(n).name in known])
        out["removed"] = len(removed)
    state = {**job.state, "stamps": now_stamps}
    runner.write(lambda s: s.set_job_state(job.id, state))
    job.state = state
    if out.get("errors"):
        raise InputError(f"{out['errors']} file(s) could not be read: "
                         + "; ".join(line for line in out["lines"] if line.startswith("error"))[:300])
    return out


# -- retention ----------------------------------------------------------------------------------


def retention(runner: JobRunner, job: Job, key: str, now: float) -> dict[str, Any]:
    """Deletes conversations older than jobs.retention_days, and job history, reports and
    other caches older than jobs.cache_days (params may override: days, cache_days)."""
    s = runner.settings.jobs
    days = float(job.params.get("days", s.retention_days))
    cache_days = float(job.params.get("cache_days", s.cache_days))
    if days <= 0:
        raise Skip("retention is off (jobs.retention_days = 0)")
    out = runner.write(lambda st: st.purge_before(now - days * DAY, now - cache_days * DAY))
    removed = 0
    if cache_days > 0 and runner.paths.reports.is_dir():
        for path in runner.paths.reports.iterdir():
            if path.is_file() and path.stat().st_mtime < now - cache_days * DAY:
                path.unlink(missing_ok=True)
                removed += 1
    out["report_files"] = removed
    runner.write(lambda st: st.event("retention", now, days=days, **out))
    return out


# -- backup -------------------------------------------------------------------------------------


def backup_database(conn_or_path: Any, dest_dir: Path, *, keep: int, now: float,
                    key: str | None = None) -> dict[str, Any]:
    """An online backup (SQLite's backup API: consistent while the app keeps writing),
    integrity-checked before it counts; the newest `keep` backups are kept. With the key of an
    encrypted database the backup is encrypted with the same key; every file is owner-only."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    private_dir(dest_dir)
    final = dest_dir / f"alpha01-{datetime.fromtimestamp(now):%Y%m%d-%H%M%S}.db"
    tmp = final.with_suffix(".db.partial")
    tmp.unlink(missing_ok=True)
    own = isinstance(conn_or_path, str | Path)
    src = connect(conn_or_path, key=key, readonly=True, timeout=30) if own else conn_or_path
    started = time.perf_counter()
    try:
        dst = connect(tmp, key=key)
        private_file(tmp)
        try:
            src.backup(dst, pages=1024)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    finally:
        if own:
            src.close()
    if check != "ok":
        tmp.unlink(missing_ok=True)
        raise InputError(f"backup failed its integrity check: {check}")
    tmp.replace(final)
    backups = sorted(dest_dir.glob("alpha01-*.db"))
    old = backups[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
    return {"file": str(final), "bytes": final.stat().st_size, "integrity": check,
            "seconds": round(time.perf_counter() - started, 3), "removed": [p.name for p in old],
            "kept": len(backups) - len(old)}


def backup(runner: JobRunner, job: Job, key: str, now: float) -> dict[str, Any]:
    keep = int(job.params.get("keep", runner.settings.jobs.backup_keep))
    dest = Path(job.params.get("dir") or runner.paths.backups)
    path, db_key = runner.store.db.path, runner.store.db.key
    if path is None:  # an in-memory database: only the writer's connection sees it
        return runner.write(lambda s: backup_database(s.conn, dest, keep=keep, now=now))
    return backup_database(Path(path), dest, keep=keep, now=now, key=db_key)


# -- sync heartbeat -----------------------------------------------------------------------------


def device_status(channels: list[Any], activity: Callable[[], tuple[int, int]]) -> Any:
    """What a heartbeat reports, whoever sends it (the app's HeartbeatLoop or this job): the
    channels' health, the web chat's URL (the server redirects scans there), the WeChat account,
    and today's open chats and new friends (load balancing and the friend cap). Every field is
    filled: the server would otherwise keep a stale value, never a guessed one."""
    from .. import __version__
    from ..sync.client import DeviceStatus

    status = DeviceStatus(version=__version__, web_chat_url="", wechat_name="", channels={})
    healths = []
    for ch in channels:
        h = ch.health()
        healths.append(h)
        # what the channel reports of itself: the web chat its URL, WeChat its account
        status.web_chat_url = status.web_chat_url or str(h.extra.get("url") or "")
        status.wechat_name = status.wechat_name or (h.account or "")
        # Per channel, by the channel's registry name ("wechat", "web" …): the server sends
        # WeChat scans only to a working WeChat and web scans only to a working web chat.
        name = str(ch.name or type(ch).__name__)[:40]
        if len(status.channels) < 16 and name not in status.channels:
            status.channels[name] = {"ok": bool(h.ok), "detail": (h.detail or "")[:200]}
    # One flag as well, for servers that know only that: every channel healthy.
    status.channel_ok = bool(healths) and all(h.ok for h in healths)
    status.channel_detail = "; ".join(h.detail for h in healths if h.detail)[:200]
    status.open_chats, status.friends_today = activity()
    return status


def _activity_today(runner: JobRunner) -> tuple[int, int]:
    """Open chats and new friends today, read on a reader connection (the writer stays free)."""
    if runner.store.db.path is None:  # an in-memory database: only the writer sees it
        return runner.write(lambda s: s.activity_today())
    from ..storage.db import Database
    from ..storage.queries import Store

    reader = Database.open_home(runner.paths, reader=True)
    try:
        return Store(reader).activity_today()
    finally:
        reader.close()


def heartbeat(runner: JobRunner, job: Job, key: str, now: float) -> dict[str, Any]:
    """One heartbeat to the sync server (for hosts without the background HeartbeatLoop)."""
    s = runner.settings.sync
    if not (s.server and s.device_id):
        raise Skip("this PC is not enrolled with a sync server")
    from ..sync.client import DeviceStatus, HeartbeatLoop, SyncClient

    def status() -> DeviceStatus:
        channels = list(getattr(runner.engine, "channels", {}).values())
        return device_status(channels, lambda: _activity_today(runner))

    if runner.heartbeat is None:
        runner.heartbeat = HeartbeatLoop(SyncClient(s.server, s.device_id, s.device_secret),
                                         status, interval_s=s.heartbeat_s)
    if not runner.heartbeat.beat_once():
        raise InputError(f"heartbeat failed: {runner.heartbeat.last_error}")
    return {"sent": runner.heartbeat.sent}


TASKS = {"broadcast": broadcast, "followup": followup, "summary": summary, "catalog": catalog,
         "watch": watch, "retention": retention, "backup": backup, "heartbeat": heartbeat}
