"""``thunderline keys create|list|revoke`` end to end (through ``python -m thunderline_cli.ingress_main``, no Dagster)."""

from __future__ import annotations

from thunderline.ingress.keys import KeyStore, parse_key
from thunderline.store import Warehouse
from thunderline_cli.ingress_main import main


def test_keys_create_list_revoke(settings_env, capsys):
    assert main(["keys", "create", "--tenant", "acme", "--label", "feed-1"]) == 0
    key = capsys.readouterr().out.strip()
    tenant, key_id, _ = parse_key(key)
    assert tenant == "acme"
    wh = Warehouse(settings_env.warehouse_url)
    try:
        assert KeyStore(wh).authenticate(key).tenant_id == "acme"
        assert main(["keys", "list", "--tenant", "acme"]) == 0
        listed = capsys.readouterr().out
        assert key_id in listed and "active" in listed and "feed-1" in listed and key.split(".")[-1] not in listed
        assert main(["keys", "list", "--tenant", "beta"]) == 0 and capsys.readouterr().out == ""
        assert main(["keys", "revoke", "--tenant", "beta", key_id]) == 1  # another tenant cannot revoke it
        assert main(["keys", "revoke", "--tenant", "acme", key_id]) == 0
        assert KeyStore(wh).authenticate(key) is None
        assert "revoked" in (main(["keys", "list", "--tenant", "acme"]) or capsys.readouterr().out)
        assert main(["keys", "create", "--tenant", "Bad Tenant"]) == 2
        assert "tenant ids are" in capsys.readouterr().err
    finally:
        wh.dispose()
