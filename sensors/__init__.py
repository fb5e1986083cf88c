"""Sensors: tick landing (micro-batch routing), EDGAR fill, model promotion, and run telemetry.

:func:`build_sensors` makes them with the configured evaluation interval
(``THUNDERLINE_SENSOR_INTERVAL_S``, default 10 s; the daemon's loop floor is ~5 s).
"""

import dagster as dg

from sensors._common import DEFAULT_INTERVAL_S


def build_sensors(interval_s: int = DEFAULT_INTERVAL_S) -> list[dg.SensorDefinition]:
    from sensors.edgar_fill import build_edgar_sensors
    from sensors.model_promotion import build_model_promotion_sensor
    from sensors.tick_landing import build_tick_landing_sensors

    return [*build_tick_landing_sensors(interval_s), *build_edgar_sensors(interval_s),
            build_model_promotion_sensor(interval_s)]


__all__ = ["DEFAULT_INTERVAL_S", "build_sensors"]
