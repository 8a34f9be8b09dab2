"""Framework-free exports of consent evidence: FHIR Bundles and the signed PDF evidence report.

The Django side turns model rows into the plain records of `records.py`; nothing here touches the ORM.
"""
