"""changemgmt: maintenance notification and change management for network providers."""

__version__ = "0.1.0"
