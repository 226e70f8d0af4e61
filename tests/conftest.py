import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle counts live in the cache; each test starts with none spent."""
    cache.clear()
    yield
