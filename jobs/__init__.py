"""Jobs and schedules (partition jobs, monthly backfills, nightly drift/exports)."""
