"""Assets declared where their code is, made for one :class:`~thunderline.config.Settings` at a time.

Why not ``@dg.asset`` at import: an asset's partitions are part of it (Dagster cannot swap them when the
asset has partitioned checks), and the monthly partitions depend on the settings (their months with data,
THUNDERLINE_FIRST_MONTH / _LAST_MONTH: :func:`jobs.keys.build_partitions`). So a domain module declares
each asset with :meth:`AssetSpecs.asset` right above its function, naming its partitions by role
(``"months"``, ``"complete_months"``, ``"month_symbol"``), and :meth:`AssetSpecs.build` makes the
``AssetsDefinition`` s when ``build_definitions(settings)`` runs. Nothing reads settings at import.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import dagster as dg

from jobs.keys import Partitions
from thunderline.config import Settings
from thunderline_assets import CHECK_PARTITIONS_PREVIEW


@dataclass(frozen=True)
class _Spec:
    fn: Callable
    partitions: str | None
    checks: tuple[tuple[str, str], ...]
    with_settings: bool
    kwargs: dict


class AssetSpecs:
    """One domain's asset declarations, in declaration order."""

    def __init__(self) -> None:
        self._specs: list[_Spec] = []

    def asset(self, partitions: str | None = None, *, checks: Sequence[tuple[str, str]] = (),
              with_settings: bool = False, **kwargs) -> Callable[[Callable], Callable]:
        """Declare the decorated function an asset with ``kwargs`` for ``dg.asset`` and partitions ``partitions``
        (a :class:`~jobs.keys.Partitions` field, None: unpartitioned); ``checks``: (name, description) of
        its checks, partitioned as the asset. ``with_settings``: the function takes the Settings and
        returns the asset's body (for an asset that reads them when it runs)."""

        def declare(fn: Callable) -> Callable:
            self._specs.append(_Spec(fn, partitions, tuple(checks), with_settings, kwargs))
            return fn

        return declare

    def build(self, parts: Partitions, settings: Settings) -> list[dg.AssetsDefinition]:
        """Every declared asset over ``parts``' partitions (and bound to ``settings`` where declared so)."""
        out = []
        for spec in self._specs:
            pdef = getattr(parts, spec.partitions) if spec.partitions else None
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=CHECK_PARTITIONS_PREVIEW)
                checks = [dg.AssetCheckSpec(name, asset=spec.fn.__name__, description=desc, partitions_def=pdef)
                          for name, desc in spec.checks]
            body = spec.fn(settings) if spec.with_settings else spec.fn
            out.append(dg.asset(name=spec.fn.__name__, partitions_def=pdef, check_specs=checks or None,
                                **spec.kwargs)(body))
        return out
