"""Synthetic incident records for load tests, demos and export checks (``manage.py generate_incidents``).

- vocabulary: the words, weights and country boxes the data is made of
- generator: the deterministic plan of places, actors, incidents and claims, as a function of seed and number
- writer: writes planned incidents in batches, through the bulk writer the importers use too (incidents.bulk)
"""
