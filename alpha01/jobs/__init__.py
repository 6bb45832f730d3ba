"""The shop's automations: broadcasts, follow-ups, summaries, catalog sync, folder watch,
retention, backups and the sync heartbeat.

The `jobs` table is the source of truth; `JobScheduler` (APScheduler 3.11) reads it at start
and fires each job, and `JobRunner` runs one fire time under an idempotent run key recorded in
the `job_runs` ledger. The scheduler and APScheduler live in `alpha01.jobs.scheduler`, imported
only by the hosts that run it, so the core never needs APScheduler.
"""

KINDS = ("broadcast", "followup", "summary", "catalog", "watch", "retention", "backup",
         "heartbeat")


def start_for_host(settings, paths, engine):  # noqa: ANN001, ANN201 - keeps this module light
    """Start the scheduler beside `engine` for a long-running host (`alpha01 run`, the TUI).

    Returns the started `JobScheduler`, or None when jobs are switched off
    (`jobs.enabled = false`) or APScheduler is not installed (the `jobs` extra)."""
    import logging

    if not settings.jobs.enabled:
        return None
    try:
        from .scheduler import JobScheduler
    except ImportError as exc:
        logging.getLogger("alpha01.jobs").warning("automations are off: %s", exc)
        return None
    return JobScheduler(settings, paths).start(engine)
