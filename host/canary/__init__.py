"""Canary analysis: tally each run per host, publish the tallies, and let one host judge.

Every host counts the requests its split sends to each arm of a canary run
(`CanaryTallies`) and publishes its counts to the registry; one host, the
holder of the endpoint's analysis lease, adds the fleet's reports up and
decides (`judge`), so a fleet reaches one verdict, recorded once, whatever
the number of hosts (`CanaryJudge`).
"""

from host.canary._analysis import (
    AnalysisSettings,
    Cause,
    Check,
    Verdict,
    VerdictKind,
    judge,
)
from host.canary._histogram import LogHistogram
from host.canary._judge import ANALYST, CanaryJudge, elapsed_s
from host.canary._tally import HTTP_5XX, ArmTally, CanaryTallies, RunTally, merged

__all__ = [
    "ANALYST",
    "HTTP_5XX",
    "AnalysisSettings",
    "ArmTally",
    "CanaryJudge",
    "CanaryTallies",
    "Cause",
    "Check",
    "LogHistogram",
    "RunTally",
    "Verdict",
    "VerdictKind",
    "elapsed_s",
    "judge",
    "merged",
]
