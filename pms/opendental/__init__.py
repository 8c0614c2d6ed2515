"""Open Dental over its REST API: a thin httpx client (`client`), Open Dental's data conventions
(`conventions`), row parsers (`parse`) and the `PmsAdapter` (`adapter`, writes in `writes`)."""

from pms.opendental.adapter import OpenDentalPms
from pms.opendental.client import (
    OpenDentalAmbiguous,
    OpenDentalClient,
    OpenDentalError,
    OpenDentalUnavailable,
    mode_for,
)
from pms.opendental.writes import capabilities_for

__all__ = [
    "OpenDentalAmbiguous",
    "OpenDentalClient",
    "OpenDentalError",
    "OpenDentalPms",
    "OpenDentalUnavailable",
    "capabilities_for",
    "mode_for",
]
