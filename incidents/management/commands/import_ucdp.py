"""Import UCDP GED events from a CSV download or a UCDP API JSON response; see docs/importing.md."""

from incidents.importers.command import ImportCommand
from incidents.importers.ucdp import UcdpGed


class Command(ImportCommand):
    help = "Import UCDP GED events (CSV, or a UCDP API JSON response) as incidents with attributed claims."
    dataset = UcdpGed()
    formats = "a CSV download, or a UCDP API JSON response with its Result array"
