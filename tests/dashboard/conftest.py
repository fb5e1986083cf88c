from ingress.conftest import (  # noqa: F401  (shared fixtures)
    api_factory,
    http_api_factory,
    module_pg_url,
    sqlite_settings,
    warehouse_url,
)
