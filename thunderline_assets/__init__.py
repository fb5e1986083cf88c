"""Thunderline's Dagster side: assets, checks, partitions, Definitions.

Warnings: Dagster's Beta/Preview/deprecation warnings are fixed at the source
(no superseded API, no Beta class where Dagster infers the same thing). The one
Preview feature we choose to use is filtered here, by category *and* message,
so that every command stays quiet and any other Dagster warning still shows:

* ``AssetCheckSpec(partitions_def=...)`` — without it a check result on a
  partitioned asset is not tied to its partition (the UI shows Partition "—").
"""

import warnings

from dagster import PreviewWarning

warnings.filterwarnings("ignore", category=PreviewWarning,
                        message=r"Specifying a partitions_def on an AssetCheckSpec is currently in preview")
