"""`python -m sync_server …` administration commands."""

from __future__ import annotations

from click.testing import CliRunner

from sync_server.cli import cli
from sync_server.service import SyncService


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_admin_workflow(tmp_path, new_db, backend):
    db = str(new_db("s"))
    out = run("init", "--db", db)
    token = out.strip().splitlines()[-1]
    assert token.startswith("adm_")
    service = SyncService(db)
    assert service.admin_ok(token) and not service.admin_ok(token + "x")
    # The token is not in the database, only its hash.
    if backend == "sqlite":
        assert token.encode() not in (tmp_path / "s.db").read_bytes()
    else:
        assert token not in {r[0] for r in service.conn.execute("SELECT token_hash FROM admins")}

    again = CliRunner().invoke(cli, ["init", "--db", db])
    assert again.exit_code != 0 and "already initialized" in again.output
    rotated = run("init", "--db", db, "--rotate-admin").strip().splitlines()[-1]
    assert service.admin_ok(rotated) and not service.admin_ok(token)

    assert "store 1: 一号店" in run("store", "add", "--db", db, "一号店", "--fallback", "电话 1")
    assert "一号店" in run("store", "list", "--db", db)
    assert "Enrollment code:" in run("enroll", "--db", db, "1", "--minutes", "5")

    png = tmp_path / "q.png"
    out = run("qr", "mint", "--db", db, "1", "--channel", "门口", "--base-url",
              "https://qr.example.com/", "--png", str(png), "--days", "7")
    url = out.strip().splitlines()[-1]
    assert url.startswith("https://qr.example.com/q/k1.") and png.read_bytes()[:4] == b"\x89PNG"
    assert "active" in run("qr", "list", "--db", db)
    assert "revoked" in run("qr", "revoke", "--db", db, url.rsplit("/", 1)[1])
    assert "revoked" in run("qr", "list", "--db", db)

    assert "k2" in run("keys", "rotate", "--db", db)
    assert "retired k1" in run("keys", "retire", "--db", db, "k1")
    run("devices", "--db", db)
    assert "all clear" in run("alerts", "--db", db)
    service.close()


def test_serve_refuses_an_uninitialized_database(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "empty.db")])
    assert result.exit_code != 0 and "not initialized" in result.output
