"""Everything the code location contains, by kind. Domain modules register here."""

from __future__ import annotations

ASSETS: list = []
CHECKS: list = []
JOBS: list = []
SCHEDULES: list = []
SENSORS: list = []
