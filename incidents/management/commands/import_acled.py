"""Import ACLED events from a CSV export; see docs/importing.md."""

from incidents.importers.acled import Acled
from incidents.importers.command import ImportCommand


class Command(ImportCommand):
    help = "Import ACLED events (a CSV export, either layout) as incidents with attributed claims."
    dataset = Acled()
    formats = "a CSV export (pre-2023 or current layout), or an ACLED API JSON response with its data array"
