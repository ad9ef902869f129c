"""Identifiers that cross layer boundaries get their own types."""

from typing import NewType

JobId = NewType("JobId", int)
NodeName = NewType("NodeName", str)
OrgId = NewType("OrgId", str)
ProjectId = NewType("ProjectId", str)
MemberId = NewType("MemberId", str)
ReservationId = NewType("ReservationId", str)
