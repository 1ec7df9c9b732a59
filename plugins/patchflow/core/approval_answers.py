"""A stage approval's answer, recorded in the run's ledger, and what a try of the approval task does with it.

Airflow 3.3 can fail the try that resumes with an approver's answer (apache/airflow#72716: the executor's
late "success" of the try that parked the task is read once the resumed try is already running). The task
then runs again, and its new try cannot read the answer the lost one received: Airflow's task supervisor
does not serve a task's Human-in-the-loop response, and asking again clears it. So the try that receives
the answer records it here before it ends, and every later try of the same approval reads it back:

- an answer recorded for the stage stands for the run: the task goes ahead on it, nobody is asked twice;
- a request made and no answer recorded (the try was lost before it recorded one) is asked again, with the
  first request's deadline, never a fresh one;
- a request whose deadline has passed with no answer recorded has timed out.

A rejection or a timeout stops the run; asking again means starting a new run. Pure: records in, decisions out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Iterable, Mapping

from patchflow.core.records import RecordKind
from patchflow.core.waits import Wait, Waiting, iso_utc, parse_utc


class Answer(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class ApprovalAnswer:
    stage: str
    answer: Answer
    at: datetime  # when the approver answered, or when the deadline passed
    by: str = ""  # the approver as Airflow names them; empty for a timeout

    def to_fields(self) -> dict[str, Any]:
        """The `approval_answered` record's own fields (the ledger adds kind, at, run)."""
        return {"stage": self.stage, "answer": self.answer.value, "answered_at": iso_utc(self.at), "by": self.by}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ApprovalAnswer:
        return cls(record["stage"], Answer(record["answer"]), parse_utc(record["answered_at"]), record.get("by") or "")

    def sentence(self) -> str:
        """Why the stage did or did not go ahead, as the report's reason and the task's failure say it."""
        when = self.at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        if self.answer is Answer.TIMED_OUT:
            return f"stage {self.stage} was not approved: nobody answered before the deadline, {when}"
        by = f" by {self.by}" if self.by else ""
        return f"stage {self.stage} was {self.answer.value}{by} at {when}"


@dataclass(frozen=True)
class Ask:
    """Ask the approvers, and wait until `deadline`; `again` when an earlier try asked and its answer was lost."""

    deadline: datetime
    again: bool = False


@dataclass(frozen=True)
class GoOn:
    """An earlier try of this approval recorded the answer: act on it without asking."""

    answer: ApprovalAnswer


Entry = Ask | GoOn


def recorded_answer(records: Iterable[Mapping[str, Any]], stage: str) -> ApprovalAnswer | None:
    """The first answer recorded for the stage's approval in the run: the one the run acted on."""
    for record in records:
        if record.get("kind") == RecordKind.APPROVAL_ANSWERED and record.get("stage") == stage:
            return ApprovalAnswer.from_record(record)
    return None


def first_request(records: Iterable[Mapping[str, Any]], stage: str) -> Wait | None:
    """The stage's first approval request in the run, whose deadline every later try keeps."""
    for record in records:
        if record.get("kind") == RecordKind.WAITING and record.get("stage") == stage and record.get("what") == Waiting.APPROVAL:
            return Wait.from_record(record)
    return None


def on_entry(records: Iterable[Mapping[str, Any]], stage: str, now: datetime, timeout: timedelta) -> Entry | ApprovalAnswer:
    """What a try of the stage's approval does: go on with a recorded answer, ask (again), or, when the first
    request's deadline has passed with nothing recorded, the timed-out answer to record and stop on."""
    records = list(records)
    answer = recorded_answer(records, stage)
    if answer is not None:
        return GoOn(answer)
    asked = first_request(records, stage)
    if asked is None:
        return Ask(now + timeout)
    if asked.until <= now:
        return ApprovalAnswer(stage, Answer.TIMED_OUT, asked.until)
    return Ask(asked.until, again=True)


ASKED_AGAIN = (
    "**Asked again.** Airflow ended the task that asked before an answer to it was recorded (an earlier try of "
    "the task in Airflow says why). Nothing was sent; please answer again. The deadline is unchanged."
)
