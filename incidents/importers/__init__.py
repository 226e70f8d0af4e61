"""Importers for conflict-event datasets (UCDP GED, ACLED) into incident records.

- reading: opens a file, recognises its layout from the header, yields rows with line numbers
- values: parses the values of one row, collecting every problem it has
- records: what a dataset row becomes (incident, place, actors, claims), dataset-neutral
- ucdp, acled: each dataset's layouts and mapping rules
- writer: writes batches of records with bulk queries (through incidents.bulk, shared with the generator)
- runner: one import from start to summary (batches, rejects, transaction, withdrawals)

The rules are documented in docs/importing.md.
"""
