"""Golden responses pin the JSON contract of the seed data byte for byte.

Regenerate after an intended contract change with `UPDATE_GOLDEN=1 make test`
and review the diff.
"""

import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

GOLDEN_DIR = Path(__file__).parent / "golden"
CASES = {
    "incident_detail_fighting_2012_07_24.json": (
        "incident-detail",
        {"slug": "gorno-badakhshan-fighting-2012-07-24"},
        {},
    ),
    "incident_list_operation_children.json": (
        "incident-list",
        {},
        {"parent": "gorno-badakhshan-military-operation-2012"},
    ),
}


def without_database_ids(value):
    """Figure ids depend on the database's sequences; everything else is fixed."""
    if isinstance(value, dict):
        return {k: ("<id>" if k == "id" else without_database_ids(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_database_ids(v) for v in value]
    return value


@pytest.fixture
def seeded(db):
    call_command("load_seeds", verbosity=0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_response_matches_golden_file(seeded, client, name):
    url_name, kwargs, params = CASES[name]
    response = client.get(reverse(url_name, kwargs=kwargs), params)
    assert response.status_code == 200
    rendered = json.dumps(without_database_ids(response.json()), indent=2, ensure_ascii=False) + "\n"
    golden = GOLDEN_DIR / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")
