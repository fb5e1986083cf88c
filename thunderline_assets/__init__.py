"""Thunderline's Dagster side: assets, checks, partitions, Definitions.

Warnings: Dagster's Beta/Preview/deprecation warnings are fixed at the source
(no superseded API, no Beta class where Dagster infers the same thing). The one
Preview feature we choose to use is filtered here, by category *and* message,
so that every command stays quiet and any other Dagster warning still shows:

* ``AssetCheckSpec(partitions_def=...)`` — without it a check result on a
  partitioned asset is not tied to its partition (the UI shows Partition "—").
  The specs are made when definitions are built (:mod:`thunderline_assets.asset_specs`), which
  applies the same filter there: a test runner resets the process's filters around each test.
"""

import warnings

from dagster import PreviewWarning

#: the one Preview warning we accept (see above), by message
CHECK_PARTITIONS_PREVIEW = r"Specifying a partitions_def on an AssetCheckSpec is currently in preview"

warnings.filterwarnings("ignore", category=PreviewWarning, message=CHECK_PARTITIONS_PREVIEW)
