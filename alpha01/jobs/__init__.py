"""The shop's automations: broadcasts, follow-ups, summaries, catalog sync, folder watch,
retention, backups and the sync heartbeat.

The `jobs` table is the source of truth; `JobScheduler` (APScheduler 3.11) reads it at start
and fires each job, and `JobRunner` runs one fire time under an idempotent run key recorded in
the `job_runs` ledger. The scheduler and APScheduler live in `alpha01.jobs.scheduler`, imported
only by the hosts that run it, so the core never needs APScheduler.
"""

KINDS = ("broadcast", "followup", "summary", "catalog", "watch", "retention", "backup",
         "heartbeat")
