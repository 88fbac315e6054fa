"""The call flows in force, changeable by admins while calls go on.

A new call reads its DID's flow once, at arrival, and keeps it to the end of its IVR
part: a change applies to the next call at once and never to a call in progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telephony.ivr.flow import Flow
from telephony.ivr.validate import Checked, validate_flow


@dataclass(frozen=True)
class FlowInForce:
    did: str
    version: int
    flow: Flow


class LiveFlows:
    def __init__(self, file_exists: Callable[[str], bool]) -> None:
        self._file_exists = file_exists
        self._flows: dict[str, FlowInForce] = {}

    def flow_for(self, did: str) -> FlowInForce | None:
        return self._flows.get(did)

    def all(self) -> dict[str, FlowInForce]:
        return dict(self._flows)

    def validate(self, raw: Any) -> Checked:
        """A valid flow and its warnings, or `FlowRejected` naming every problem."""
        return validate_flow(raw, file_exists=self._file_exists)

    def put_in_force(self, did: str, version: int, flow: Flow | None) -> None:
        if flow is None:
            self._flows.pop(did, None)
        else:
            self._flows[did] = FlowInForce(did, version, flow)
