"""The inventory (SPEC §1): customers, contacts, locations and services, imported and
exported as CSV or JSON."""

from changemgmt.inventory.errors import ImportFailed, RowError
from changemgmt.inventory.exporter import export_inventory
from changemgmt.inventory.fields import KIND_NAMES
from changemgmt.inventory.importer import ImportResult, import_inventory

__all__ = ["KIND_NAMES", "ImportFailed", "ImportResult", "RowError", "export_inventory", "import_inventory"]
