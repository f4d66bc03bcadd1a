"""A real database failure in the middle of the SQL path of the FINESS import (PostgreSQL).

The SQL path writes set-wise (one ``INSERT … ON CONFLICT`` for every structure), so there is no
"later batch" to hand a bad value to: a trigger makes PostgreSQL itself refuse one structure
with a ``data_exception`` once the organisations and the structures before it are written. Its
message says how many structures the transaction held then, so a test can check that writes
had happened before the failure and were all rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

FUNCTION = "test_finess_poison"


@contextmanager
def poisoned_structure(finess: str) -> Iterator[None]:
    """Inserting or updating the structure ``finess`` fails with a DataError."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.finess = '{finess}' THEN
                    RAISE EXCEPTION 'poison after % structures',
                        (SELECT count(*) FROM grappes_structure)
                        USING ERRCODE = 'data_exception';
                END IF;
                RETURN NEW;
            END $$
            """
        )
        cursor.execute(
            f"CREATE TRIGGER {FUNCTION} BEFORE INSERT OR UPDATE ON grappes_structure "
            f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        )
    try:
        yield
    finally:
        # Transactional tests commit the DDL: take it away (a rolled-back test has nothing).
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON grappes_structure")
            cursor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
