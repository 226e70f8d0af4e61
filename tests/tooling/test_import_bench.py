"""The import bench (bench/importers.py): its safety check, and that its replay
baseline COPYs back exactly the rows an import wrote, into the same tables."""

import pytest
from django.core.management import call_command
from django.db import connection

from bench import importers as import_bench

REPLAYED = {
    "incidents_incident",
    "incidents_incidentactor",
    "incidents_casualtyfigure",
    "incidents_actor",
    "incidents_location",
    "incidents_source",
    "incidents_incident_sources",
    "incidents_historicalincident",
}


def test_refuses_a_database_whose_name_does_not_end_in_bench():
    # The test database is test_..., and on SQLite not PostgreSQL at all.
    with pytest.raises(SystemExit, match="ends in 'bench'"):
        import_bench.check_database()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bench measures PostgreSQL's COPY")
@pytest.mark.django_db(transaction=True)
def test_replay_copies_back_exactly_the_rows_the_import_wrote(tmp_path):
    rows = list(import_bench.ucdp_rows(40))
    first, later = tmp_path / "first.csv", tmp_path / "later.csv"
    import_bench.write_file(first, import_bench.UCDP_COLUMNS, rows[:30])
    import_bench.write_file(later, import_bench.UCDP_COLUMNS, rows[30:])
    import_bench.empty_database()
    before = import_bench.table_counts()
    call_command("import_ucdp", str(first), verbosity=0, release="bench")
    written = import_bench.written_tables(before, import_bench.table_counts())
    assert set(written) >= REPLAYED
    assert written["incidents_incident"] == written["incidents_historicalincident"] == 30
    import_bench.dump_tables(written, tmp_path / "imported")

    seconds, steps, commit_seconds = import_bench.measure_replay(written, tmp_path / "imported")

    assert [table for table, _ in steps] == list(written)
    assert seconds >= commit_seconds > 0
    counts = import_bench.table_counts()
    assert {table: counts[table] for table in written} == written
    import_bench.dump_tables(written, tmp_path / "replayed")
    for table in written:
        # The same rows; not necessarily in the same order on disk (COPY fills pages its own way).
        imported = sorted((tmp_path / "imported" / f"{table}.copy").read_bytes().splitlines())
        assert sorted((tmp_path / "replayed" / f"{table}.copy").read_bytes().splitlines()) == imported, table
    # The sequences point past the replayed rows: another import adds its rows beside them.
    call_command("import_ucdp", str(later), verbosity=0, release="bench")
    assert import_bench.table_counts()["incidents_incident"] == 40
