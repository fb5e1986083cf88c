from ingress.conftest import module_pg_url, warehouse_url  # noqa: F401  (one PostgreSQL database per module)
