"""The shop's automations: next run, last result, errors. `r` runs the selected job now."""

from __future__ import annotations

import json
import time

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ..format import clip
from .listing import ListScreen

STATUS_STYLES = {"ok": ("成功", "green"), "error": ("出错", "bold red"),
                 "missed": ("错过", "yellow"), "skipped": ("跳过", "dim"),
                 "running": ("运行中", "cyan")}


def _when(ts: float | None) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts)) if ts else "-"


class JobsScreen(ListScreen):
    HEADING = "定时任务（群发、回访、小结、商品同步、备份）"
    TABLE_ID = "jobs"
    COLUMNS = (("#", "id", 4), ("任务", "name", 14), ("类型", "kind", 9), ("计划", "schedule", 16),
               ("下次运行", "next", 11), ("上次", "last", 6), ("上次时间", "at", 11),
               ("错误", "error", 36))

    BINDINGS = [
        Binding("escape", "back", "返回"),
        Binding("r", "run_now", "立即运行"),
    ]

    def refresh_data(self, status_only: bool = False) -> None:
        bridge = self.app.bridge
        if bridge is None or status_only:
            return
        from ...jobs.runner import Job
        from ...jobs.scheduler import next_fire

        reader = bridge.reader
        scheduler = getattr(self.app, "jobs", None)
        live = scheduler.next_runs() if scheduler is not None else {}
        last, errors = reader.last_runs(), reader.last_errors()
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        now = time.time()
        for row in reader.jobs():
            job = Job.from_row(row)
            nxt = live.get(job.id) if job.id in live else (
                next_fire(job, last=reader.last_scheduled(job.id), now=now)
                if job.enabled else None)
            lr, le = last.get(job.id), errors.get(job.id)
            label, style = STATUS_STYLES.get(lr["status"], (lr["status"], "")) if lr else ("-", "")
            error = ""
            if le is not None and lr is not None and lr["status"] == "error":
                error = le["error"] or ""
            elif lr is not None and lr["status"] == "skipped":
                error = json.loads(lr["result"] or "{}").get("reason", "")
            table.add_row(str(job.id), clip(job.name, 14), job.kind, clip(job.schedule, 16),
                          _when(nxt) if job.enabled else "已停用", Text(label, style=style),
                          _when(lr["scheduled_at"] if lr else None), clip(error, 36),
                          key=str(job.id))
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1), animate=False)

    def action_run_now(self) -> None:
        jid = self.selected()
        scheduler = getattr(self.app, "jobs", None)
        if jid is None or scheduler is None:
            self.notify("定时任务没有运行", severity="warning")
            return

        def work() -> None:
            result = scheduler.run_now(jid)
            note = f"{result.job}：{result.status}" + (f"（{result.error}）" if result.error else "")
            self.app.call_from_thread(self.notify, note, timeout=5)
            self.app.call_from_thread(self.refresh_data)

        self.notify("已开始运行…", timeout=2)
        self.run_worker(work, thread=True, name="job-run", exit_on_error=False)
