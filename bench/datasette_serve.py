"""Datasette as `datasette serve -i FILE --metadata …` starts it, minus the per-request access log.

`datasette serve` runs uvicorn with log_level="info", which writes a line for every request;
gunicorn in this benchmark logs warnings only, so Datasette gets the same treatment here.

    python -m bench.datasette_serve FILE METADATA.json PORT
"""

import json
import sys

import uvicorn
from datasette.app import Datasette
from datasette.cli import run_sync

from bench import config

SETTINGS = {
    "sql_time_limit_ms": 30_000,
    "max_returned_rows": 1000,
    "default_cache_ttl": 0,
    "suggest_facets": False,
}


def main():
    path, metadata_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(metadata_path) as f:
        metadata = json.load(f)
    ds = Datasette(immutables=[path], metadata=metadata, settings=SETTINGS, cache_headers=True)
    run_sync(ds.invoke_startup)
    uvicorn.run(
        ds.app(), host=config.HOST, port=port, log_level="warning", access_log=False, lifespan="on", workers=1
    )


if __name__ == "__main__":
    main()
