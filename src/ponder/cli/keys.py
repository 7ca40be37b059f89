"""``ponder keys create|list|revoke``: API keys for ``ponder serve`` (stored hashed under
``$PONDER_HOME``; a key is shown once, when created)."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from ponder.cli.common import console, console_err, print_json, settings

keys_app = typer.Typer(help="API keys for `ponder serve`.", no_args_is_help=True)


def _store():  # type: ignore[no-untyped-def]
    from ponder.server.keys import KeyStore

    return KeyStore(settings().home)


@keys_app.command("create")
def create(
    scope: str = typer.Option(..., "--scope", help="read | write | admin (each includes the "
                                                   "ones before)."),
    collections: str | None = typer.Option(
        None, "--collections", help="Only these collections, comma-separated (default: all)."),
    name: str | None = typer.Option(None, "--name", help="A name to recognise the key by."),
    as_json: bool = typer.Option(False, "--json", help="Print {key, id, ...} as JSON."),
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from ponder.server.keys import check_scope

    check_scope(scope)
    cols = [c for c in (collections or "").split(",") if c.strip()]
    store = _store()
    try:
        key, rec = store.create(scope, collections=cols, name=name)
    finally:
        store.close()
    if as_json:
        print_json({"key": key, **rec.to_dict()})
        return
    console.print(key, highlight=False, soft_wrap=True)
    where = ", ".join(rec.collections) if rec.collections else "all collections"
    console_err.print(f"key {rec.name!r} (id {rec.id}), scope {rec.scope}, {where}. "
                      "Copy it now: it is not shown again.", highlight=False)


@keys_app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Include revoked keys."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List keys (ids, names, scopes; never the keys themselves)."""
    store = _store()
    try:
        recs = store.list(include_revoked=all_)
    finally:
        store.close()
    if as_json:
        print_json([r.to_dict() for r in recs])
        return
    if not recs:
        console.print("no keys: the server is open on loopback; create one with "
                      "`ponder keys create --scope read`")
        return
    t = Table()
    for col in ("id", "name", "scope", "collections", "created", "revoked"):
        t.add_column(col)
    for r in recs:
        t.add_row(r.id, r.name, r.scope, ", ".join(r.collections) or "all",
                  dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M"),
                  "yes" if r.revoked else "")
    console.print(t)


@keys_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key's id (or unique name).")) -> None:
    """Revoke a key: requests with it get 401 from then on."""
    store = _store()
    try:
        store.revoke(key_id)
    finally:
        store.close()
    console.print(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
