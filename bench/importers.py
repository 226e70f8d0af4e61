"""How fast an import is, next to two plain PostgreSQL COPYs (docs/importing.md, "Speed").

    createdb -h 127.0.0.1 -U postgres incidents_importbench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidents_importbench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidents_importbench .venv/bin/python -m bench.importers

For each dataset it generates a file of --rows rows in the dataset's layout (deterministic:
the same rows every run) and measures, in this order:

1. raw COPY: the file as it is, COPY ... FROM STDIN (FORMAT csv) into a scratch table of
   text columns without indexes or constraints;
2. the import command on an empty database;
3. the import command again (every row unchanged);
4. replay COPY: the rows the first import wrote, as the database has them. Right after
   the first import, every table whose row count it raised (incidents, their actor roles,
   casualty figures, actors, locations, the release's source, the incident-source links,
   the history rows) is dumped with COPY ... TO; after the re-import the database is
   emptied and those rows are COPYed back into the same tables, with their indexes,
   constraints and foreign keys, in one transaction whose commit (and so the deferred
   foreign-key checks) is timed too.

Both COPYs are expressed in the file's rows per second, so the import's share of each is
the ratio of the times: the share of the replay says how close the import gets to writing
the same rows with nothing but COPY.

It empties the database it runs on, so it refuses any database whose name does not end
in "bench".
"""

import argparse
import csv
import os
import random
import shutil
import sys
import time
from pathlib import Path

DATASETS = ("ucdp", "acled")

UCDP_COLUMNS = [
    "id",
    "relid",
    "year",
    "active_year",
    "code_status",
    "type_of_violence",
    "conflict_dset_id",
    "conflict_new_id",
    "conflict_name",
    "dyad_dset_id",
    "dyad_new_id",
    "dyad_name",
    "side_a_dset_id",
    "side_a_new_id",
    "side_a",
    "side_b_dset_id",
    "side_b_new_id",
    "side_b",
    "number_of_sources",
    "source_article",
    "source_office",
    "source_date",
    "source_headline",
    "source_original",
    "where_prec",
    "where_coordinates",
    "where_description",
    "adm_1",
    "adm_2",
    "latitude",
    "longitude",
    "geom_wkt",
    "priogrid_gid",
    "country",
    "country_id",
    "region",
    "event_clarity",
    "date_prec",
    "date_start",
    "date_end",
    "deaths_a",
    "deaths_b",
    "deaths_civilians",
    "deaths_unknown",
    "best",
    "high",
    "low",
    "gwnoa",
    "gwnob",
]
ACLED_COLUMNS = [
    "event_id_cnty",
    "event_date",
    "year",
    "time_precision",
    "disorder_type",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "source_scale",
    "notes",
    "fatalities",
    "tags",
    "timestamp",
]

COUNTRIES = [
    ("Afghanistan", 700, "AFG", 4),
    ("Sudan", 625, "SDN", 729),
    ("Somalia", 520, "SOM", 706),
    ("Myanmar (Burma)", 775, "MMR", 104),
    ("Nigeria", 475, "NGA", 566),
    ("Mali", 432, "MLI", 466),
    ("Ethiopia", 530, "ETH", 231),
    ("Syria", 652, "SYR", 760),
]
WORDS = [
    "forces",
    "attack",
    "village",
    "district",
    "clash",
    "reported",
    "killed",
    "wounded",
    "militants",
    "army",
    "police",
    "town",
    "province",
    "market",
    "checkpoint",
    "convoy",
    "border",
    "night",
    "morning",
    "officials",
    "said",
    "local",
]
ACLED_TYPES = [
    ("Political violence", "Battles", "Armed clash"),
    ("Political violence", "Explosions/Remote violence", "Air/drone strike"),
    ("Political violence", "Explosions/Remote violence", "Remote explosive/landmine/IED"),
    ("Political violence", "Violence against civilians", "Attack"),
    ("Demonstrations", "Protests", "Peaceful protest"),
    ("Political violence", "Riots", "Mob violence"),
    ("Strategic developments", "Strategic developments", "Arrests"),
]
INTER_LABELS = ["State forces", "Rebel group", "Political militia", "Identity militia", "Civilians"]


def _sentence(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def _places(rng, count):
    places = []
    for n in range(count):
        country = rng.choice(COUNTRIES)
        places.append(
            (
                country,
                f"Province {n % 40}",
                f"District {n % 400}",
                f"Place {n} town",
                round(rng.uniform(-30, 40), 6),
                round(rng.uniform(-10, 100), 6),
            )
        )
    return places


def ucdp_rows(count, seed=1):
    rng = random.Random(seed)
    places = _places(rng, 5000)
    governments = [(100 + i, f"Government of {c[0]}", c[1]) for i, c in enumerate(COUNTRIES)]
    groups = [(1000 + i, f"Armed Group {i}") for i in range(300)]
    for n in range(count):
        event_id = 1_000_000 + n
        country, adm_1, adm_2, where, lat, lon = rng.choice(places)
        violence = rng.choices((1, 2, 3), weights=(6, 2, 2))[0]
        gov_id, gov_name, gwno = next(g for g in governments if g[2] == country[1])
        if violence == 1:
            a_id, a_name, gwnoa = gov_id, gov_name, gwno
            b_id, b_name = rng.choice(groups)
        elif violence == 2:
            (a_id, a_name), (b_id, b_name), gwnoa = rng.choice(groups), rng.choice(groups), ""
        else:
            (a_id, a_name), gwnoa = rng.choice(groups), ""
            b_id, b_name = 1, "Civilians"
        deaths = [rng.choice((0, 0, 1, 2, 5)) for _ in range(4)]
        best = sum(deaths)
        low, high = max(0, best - rng.choice((0, 1))), best + rng.choice((0, 0, 3))
        start = f"20{10 + n % 15:02d}-{1 + n % 12:02d}-{1 + n % 27:02d}"
        articles = ";".join(
            f'"Agency {rng.randint(1, 40)},{start},{_sentence(rng, 10)}"' for _ in range(rng.randint(1, 3))
        )
        yield [
            event_id, f"{country[2]}-{start[:4]}-{violence}-{a_id}-{n}", start[:4], "true", "Clear", violence,
            a_id, a_id, f"{country[0]}: {b_name}", 5000 + b_id, 5000 + b_id, f"{a_name} - {b_name}",
            a_id, a_id, a_name, b_id, b_id, b_name, rng.randint(1, 4), articles, "Agency", start,
            _sentence(rng, 8), _sentence(rng, 6), rng.choice((1, 1, 1, 2, 3, 4)), where, f"near {where}",
            adm_1, adm_2, lat, lon, f"POINT ({lon} {lat})", 150000 + n % 9000, country[0], country[1],
            "Asia", 1, rng.choice((1, 1, 1, 2, 4)), f"{start} 00:00:00.000", f"{start} 00:00:00.000",
            *deaths, best, high, low, gwnoa, "",
        ]  # fmt: skip


def acled_rows(count, seed=2):
    rng = random.Random(seed)
    places = _places(rng, 5000)
    actors = [f"Armed Group {i}" for i in range(300)]
    for n in range(count):
        country, adm_1, adm_2, where, lat, lon = rng.choice(places)
        disorder, event_type, sub_event_type = rng.choice(ACLED_TYPES)
        date = f"20{10 + n % 15:02d}-{1 + n % 12:02d}-{1 + n % 27:02d}"
        inter1, inter2 = rng.choice(INTER_LABELS[:4]), rng.choice(INTER_LABELS)
        actor1 = f"Military Forces of {country[0]}" if inter1 == "State forces" else rng.choice(actors)
        actor2 = f"Civilians ({country[0]})" if inter2 == "Civilians" else rng.choice(actors)
        yield [
            f"{country[2]}{100000 + n}", date, date[:4], rng.choice((1, 1, 1, 2)), disorder, event_type,
            sub_event_type, actor1, "", inter1, actor2, "", inter2, f"{inter1}-{inter2}", "", country[3],
            "Region", country[0], adm_1, adm_2, "", where, lat, lon, rng.choice((1, 1, 2)),
            f"Agency {rng.randint(1, 40)}", "National", f"On {date}, {_sentence(rng, 40)}.",
            rng.choice((0, 0, 0, 1, 2, 5)), "", 1700000000 + n,
        ]  # fmt: skip


def write_file(path, columns, rows):
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(columns)
        writer.writerows(rows)


def measure_copy(path, columns):
    """Rows per second of COPY ... FROM STDIN (FORMAT csv) of the file into a scratch table."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    table = "importbench_copy_scratch"
    with raw.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} ({', '.join(f'{c} text' for c in columns)})")
    raw.commit()
    started = time.perf_counter()
    with raw.cursor() as cursor:
        with (
            cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy,
            open(path, "rb") as stream,
        ):
            while data := stream.read(1 << 20):
                copy.write(data)
        raw.commit()
        seconds = time.perf_counter() - started
        cursor.execute(f"SELECT count(*) FROM {table}")
        rows = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {table}")
    raw.commit()
    return rows, seconds


def measure_import(command, path):
    from django.core.management import call_command

    started = time.perf_counter()
    call_command(command, str(path), verbosity=0, release="bench")
    return time.perf_counter() - started


def empty_database():
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)


def table_counts():
    """{table: rows} for every table of the project's models."""
    from django.db import connection

    tables = sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))
    with connection.cursor() as cursor:
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def written_tables(before, after):
    """{table: rows} of the tables whose row count went up between two table_counts()."""
    return {table: rows for table, rows in after.items() if rows > before.get(table, 0)}


def dump_tables(tables, directory):
    """COPY ... TO every row of ``tables`` into one file per table in ``directory``."""
    from django.db import connection

    directory.mkdir(parents=True, exist_ok=True)
    with connection.cursor() as cursor:
        for table in tables:
            sql = f"COPY {connection.ops.quote_name(table)} TO STDOUT"
            with cursor.cursor.copy(sql) as copy, open(directory / f"{table}.copy", "wb") as stream:
                for data in copy:
                    stream.write(data)


def replay_tables(tables, directory):
    """COPY the dumped rows back into their emptied tables in one transaction, commit included.

    Returns (seconds in all, [(table, seconds of its COPY)], seconds of the commit). The
    tables keep their indexes and constraints; foreign keys, deferred as Django creates
    them, are checked at the commit, which is why it is timed.
    """
    from django.db import connection, transaction

    quote = connection.ops.quote_name
    filled = [table for table, rows in table_counts().items() if table in tables and rows]
    if filled:
        raise RuntimeError(f"the tables to replay into are not empty: {', '.join(filled)}")
    steps = []
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # One statement per table may outlast the project's per-statement limit.
        cursor.execute("SET LOCAL statement_timeout = 0")
        for table in tables:
            began = time.perf_counter()
            with (
                cursor.cursor.copy(f"COPY {quote(table)} FROM STDIN") as copy,
                open(directory / f"{table}.copy", "rb") as stream,
            ):
                while data := stream.read(1 << 20):
                    copy.write(data)
            steps.append((table, time.perf_counter() - began))
        committing = time.perf_counter()
    finished = time.perf_counter()
    return finished - started, steps, finished - committing


def reset_sequences(tables):
    """Point the id sequences of ``tables`` past their rows (COPY does not move them)."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.db_table in tables]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)


def measure_replay(tables, directory):
    """Empty the database, replay the dumped rows of ``tables`` (see replay_tables), reset sequences."""
    empty_database()
    try:
        return replay_tables(tables, directory)
    finally:
        reset_sequences(tables)


def check_database():
    """Exit unless the bench may empty this database: PostgreSQL, its name ending in "bench"."""
    from django.db import connection

    if connection.vendor != "postgresql" or not connection.settings_dict["NAME"].endswith("bench"):
        sys.exit(
            "The bench empties its database: run it on a PostgreSQL database whose name ends in "
            "'bench' (DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidents_importbench)."
        )


def share(rate, baseline):
    share = rate / baseline
    return f"{share:.1%}" if share < 0.1 else f"{share:.0%}"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dataset", choices=[*DATASETS, "both"], default="both")
    parser.add_argument("--dir", type=Path, default=Path(".bench"), help="Where the generated files go.")
    options = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    check_database()
    options.dir.mkdir(parents=True, exist_ok=True)
    datasets = DATASETS if options.dataset == "both" else (options.dataset,)
    for dataset in datasets:
        columns, rows, command = {
            "ucdp": (UCDP_COLUMNS, ucdp_rows, "import_ucdp"),
            "acled": (ACLED_COLUMNS, acled_rows, "import_acled"),
        }[dataset]
        path = options.dir / f"{dataset}_{options.rows}.csv"
        write_file(path, columns, rows(options.rows))
        size = path.stat().st_size / 1e6
        copied, copy_seconds = measure_copy(path, columns)
        empty_database()
        before = table_counts()
        first = measure_import(command, path)
        written = written_tables(before, table_counts())
        dump = options.dir / f"{dataset}_{options.rows}_replay"
        dump_tables(written, dump)
        again = measure_import(command, path)
        try:
            replay_seconds, steps, commit_seconds = measure_replay(written, dump)
        finally:
            shutil.rmtree(dump, ignore_errors=True)

        n = options.rows
        copy_rate, replay_rate = copied / copy_seconds, n / replay_seconds
        first_rate, again_rate = n / first, n / again
        database_rows = sum(written.values())
        print(f"{dataset}: {n} rows, {size:.0f} MB ({path})")
        print(
            f"  raw COPY of the file into a scratch table:  {copy_seconds:6.1f} s, {copy_rate:9,.0f} rows/s"
        )
        print(
            f"  replay COPY of the {database_rows:,} rows the import wrote: {replay_seconds:6.1f} s, "
            f"{replay_rate:9,.0f} rows/s of the file ({database_rows / replay_seconds:,.0f} database rows/s)"
        )
        for table, seconds in steps:
            print(f"    {table:40} {written[table]:9,} rows {seconds:6.1f} s")
        print(f"    {'commit (deferred foreign-key checks)':40} {'':14} {commit_seconds:6.1f} s")
        for label, seconds, rate in (
            (f"{command} (empty database)", first, first_rate),
            (f"{command} again (unchanged)", again, again_rate),
        ):
            print(
                f"  {label:42} {seconds:6.1f} s, {rate:9,.0f} rows/s, "
                f"{share(rate, copy_rate)} of raw COPY, {share(rate, replay_rate)} of replay COPY"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
