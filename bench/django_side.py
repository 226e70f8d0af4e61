"""What the benchmark does inside Django, run as a subprocess with a tier's environment.

    python -m bench.django_side setup     # editor user + DRF token; slugs the write workload uses
    python -m bench.django_side count     # JSON list of requests on stdin -> queries per request
    python -m bench.django_side profile   # JSON list of GET requests on stdin -> in-process ms + cProfile
    python -m bench.django_side cleanup   # delete the incidents the write workload created

`count` runs each request once through Django's test client, in-process, inside
CaptureQueriesContext (which records queries even with DEBUG off), against the same
database and settings the server uses.
"""

import json
import sys

import django


def _setup():
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from bench.config import EDITOR_USERNAME
    from incidents.models import Actor, Location, Source

    user, _ = User.objects.get_or_create(username=EDITOR_USERNAME, defaults={"is_active": True})
    user.groups.add(Group.objects.get(name="editors"))
    token, _ = Token.objects.get_or_create(user=user)
    actors = list(
        Actor.objects.filter(slug__startswith="gen-actor-").order_by("id").values_list("slug", flat=True)[:3]
    )
    location = (
        Location.objects.filter(slug__startswith="gen-place-")
        .order_by("id")
        .values_list("slug", flat=True)[0]
    )
    source = Source.objects.get(slug="generated-data").slug
    return {"token": token.key, "actors": actors, "location": location, "source": source}


def _count(requests):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.config import HOST

    results = {}
    for spec in requests:
        headers = {"HTTP_HOST": HOST}
        if spec.get("token"):
            headers["HTTP_AUTHORIZATION"] = f"Token {spec['token']}"
        client = Client(**headers)
        with CaptureQueriesContext(connection) as captured:
            if spec.get("method", "GET") == "POST":
                response = client.post(spec["path"], data=spec["body"], content_type="application/json")
            else:
                response = client.get(spec["path"])
            if getattr(response, "streaming", False):
                size = sum(len(part) for part in response.streaming_content)
            else:
                size = len(response.content)
        results[spec["name"]] = {
            "queries": len(captured.captured_queries),
            "status": response.status_code,
            "bytes": size,
            "sql": [q["sql"] for q in captured.captured_queries[:40]],
        }
    return results


def _profile(requests, n=20):
    """Per request: in-process time (no HTTP), and a cProfile of `n` requests (cumulative and own time)."""
    import cProfile
    import io
    import pstats
    import time

    from django.test import Client

    from bench.config import HOST

    client = Client(HTTP_HOST=HOST)
    out = {}
    for spec in requests:
        for _ in range(3):
            client.get(spec["path"])
        started = time.perf_counter()
        for _ in range(n):
            client.get(spec["path"])
        elapsed = (time.perf_counter() - started) / n
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            client.get(spec["path"])
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        out[spec["name"]] = {"in_process_ms": round(elapsed * 1000, 2), "profile": text.getvalue()}
    return out


def _cleanup():
    from django.db import connection, transaction

    from bench.config import WRITE_SLUG_PREFIX

    like = WRITE_SLUG_PREFIX + "%"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM incidents_incident WHERE slug LIKE %s", [like])
        ids = [row[0] for row in cursor.fetchall()]
        if ids:
            for table in (
                "incidents_incidentactor",
                "incidents_casualtyfigure",
                "incidents_incident_sources",
            ):
                cursor.execute(f"DELETE FROM {table} WHERE incident_id = ANY(%s)", [ids])
            cursor.execute("DELETE FROM incidents_incident WHERE id = ANY(%s)", [ids])
            # The change history the writes left behind.
            for table in ("incidents_historicalincidentactor", "incidents_historicalcasualtyfigure"):
                cursor.execute(f"DELETE FROM {table} WHERE incident_id = ANY(%s)", [ids])
            cursor.execute(
                "DELETE FROM incidents_historicalincident_sources WHERE incident_id = ANY(%s)", [ids]
            )
            cursor.execute("DELETE FROM incidents_historicalincident WHERE id = ANY(%s)", [ids])
    return {"deleted": len(ids)}


def main():
    django.setup()
    command = sys.argv[1]
    if command == "setup":
        out = _setup()
    elif command == "count":
        out = _count(json.load(sys.stdin))
    elif command == "profile":
        out = _profile(json.load(sys.stdin))
    elif command == "cleanup":
        out = _cleanup()
    else:
        raise SystemExit(f"unknown command {command!r}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
