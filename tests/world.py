"""The small shared world: two customers who must never see each other's services
(Acme in Chicago, Globex in UTC), an enterprise parent over Acme, and an outsider."""

from __future__ import annotations

from changemgmt.store import models


def build_world(session) -> dict[str, models.Customer]:
    dallas = models.Location(
        code="DLLSTX01", name="Dallas Central", city="Dallas", region="TX", country="US", time_zone="America/Chicago"
    )
    houston = models.Location(
        code="HSTNTX02", name="Houston West", city="Houston", region="TX", country="US", time_zone="America/Chicago"
    )
    enterprise = models.Customer(account="ENT-100", name="Acme Holdings", time_zone="America/New_York")
    acme = models.Customer(account="ACC-1001", name="Acme Logistics", time_zone="America/Chicago", parent=enterprise)
    globex = models.Customer(account="ACC-2002", name="Globex Corp", time_zone="UTC")
    outsider = models.Customer(account="ACC-3003", name="Initech", time_zone="America/Denver")
    session.add_all([dallas, houston, enterprise, acme, globex, outsider])
    session.add_all(
        [
            models.Contact(customer=acme, email="noc@acme.example", name="Acme NOC"),
            models.Contact(customer=enterprise, email="it@acme-holdings.example", name="Acme Holdings IT"),
            models.Contact(customer=globex, email="ops@globex.example", name="Globex Ops"),
            models.Contact(customer=outsider, email="noc@initech.example", name="Initech NOC"),
        ]
    )
    session.add_all(
        [
            models.Service(
                service_id="ACME-ETH-1",
                customer=acme,
                product="Ethernet 10G",
                bandwidth="10G",
                a_end=dallas,
                z_end=houston,
            ),
            models.Service(
                service_id="ACME-DIA-2",
                customer=acme,
                product="Dedicated Internet Access",
                bandwidth="1G",
                a_end=dallas,
            ),
            models.Service(
                service_id="GLBX-WAVE-1",
                customer=globex,
                product="Wavelength 100G",
                bandwidth="100G",
                a_end=houston,
                z_end=dallas,
            ),
            models.Service(
                service_id="INIT-ETH-9", customer=outsider, product="Ethernet 1G", bandwidth="1G", a_end=houston
            ),
        ]
    )
    session.flush()
    return {"enterprise": enterprise, "acme": acme, "globex": globex, "outsider": outsider}
