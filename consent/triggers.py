"""Database triggers that make ledger tables append-only, on PostgreSQL and SQLite.

The triggers stop accidental and casual edits; a determined database owner can still drop them,
which is why every entry is also covered by the Merkle tree and the signed tree heads.
"""

from __future__ import annotations

from typing import Any

PROTECTED_TABLES = ("consent_ledgerentry", "consent_signedtreehead")


def _postgres_install(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION candor_refuse_ledger_change()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION candor_refuse_ledger_change()""",
    ]


def _sqlite_install(table: str) -> list[str]:
    statements = []
    for action in ("UPDATE", "DELETE"):
        name = f"{table}_no_{action.lower()}"
        statements += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"""CREATE TRIGGER {name} BEFORE {action} ON {table}
                BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END""",
        ]
    return statements


def install(connection: Any) -> None:
    """Create (or re-create) the triggers on every protected table."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                """CREATE OR REPLACE FUNCTION candor_refuse_ledger_change() RETURNS trigger AS $$
                   BEGIN RAISE EXCEPTION 'ledger rows are append-only (% on %)', TG_OP, TG_TABLE_NAME; END
                   $$ LANGUAGE plpgsql"""
            )
            for table in PROTECTED_TABLES:
                for sql in _postgres_install(table):
                    cursor.execute(sql)
        elif connection.vendor == "sqlite":
            for table in PROTECTED_TABLES:
                for sql in _sqlite_install(table):
                    cursor.execute(sql)
        else:  # pragma: no cover - only the two supported databases
            raise RuntimeError(f"no ledger triggers for {connection.vendor}")


def uninstall(connection: Any) -> None:
    """Remove the triggers: only for tests that must empty the tables or simulate tampering."""
    with connection.cursor() as cursor:
        for table in PROTECTED_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
