from ingress.conftest import api_factory, http_api_factory, sqlite_settings  # noqa: F401  (shared fixtures)
