"""What a try of a stage's approval does with what the run's ledger already holds."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from patchflow.core.approval_answers import Answer, ApprovalAnswer, Ask, GoOn, on_entry, recorded_answer

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)
TIMEOUT = timedelta(minutes=10)


def asked(stage: str, until: datetime, detail: str = "") -> dict:
    return {"kind": "waiting", "stage": stage, "what": "approval", "until": until.strftime("%Y-%m-%dT%H:%M:%SZ"), "time_zone": "UTC", "detail": detail}


def answered(stage: str, answer: str, at: datetime, by: str = "alice") -> dict:
    return {"kind": "approval_answered", "stage": stage, "answer": answer, "answered_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "by": by}


SOAK = {"kind": "waiting", "stage": "prod", "what": "soak", "until": "2026-12-03T09:00:00Z", "time_zone": "UTC", "detail": ""}


@pytest.mark.parametrize(
    "records, expected",
    [
        pytest.param([], Ask(NOW + TIMEOUT), id="first-try-asks-with-a-fresh-deadline"),
        pytest.param([SOAK, asked("test", NOW - timedelta(minutes=1))], Ask(NOW + TIMEOUT), id="another-stages-request-is-not-this-ones"),
        pytest.param([asked("prod", NOW + timedelta(minutes=4))], Ask(NOW + timedelta(minutes=4), again=True), id="lost-before-recording-asks-again-same-deadline"),
        pytest.param(
            [asked("prod", NOW + timedelta(minutes=4)), asked("prod", NOW + timedelta(minutes=4), "asked again")],
            Ask(NOW + timedelta(minutes=4), again=True),
            id="lost-twice-still-the-first-deadline",
        ),
        pytest.param(
            [asked("prod", NOW - timedelta(seconds=1))],
            ApprovalAnswer("prod", Answer.TIMED_OUT, NOW - timedelta(seconds=1)),
            id="deadline-passed-with-nothing-recorded-times-out",
        ),
        pytest.param(
            [asked("prod", NOW + timedelta(minutes=4)), answered("prod", "approved", NOW - timedelta(seconds=5))],
            GoOn(ApprovalAnswer("prod", Answer.APPROVED, NOW - timedelta(seconds=5), "alice")),
            id="recorded-approval-carries-the-retry",
        ),
        pytest.param(
            [asked("prod", NOW - timedelta(minutes=4)), answered("prod", "rejected", NOW - timedelta(minutes=5), by="bob")],
            GoOn(ApprovalAnswer("prod", Answer.REJECTED, NOW - timedelta(minutes=5), "bob")),
            id="recorded-rejection-stands-even-past-the-deadline",
        ),
        pytest.param(
            [asked("prod", NOW), answered("prod", "rejected", NOW, by="bob"), answered("prod", "approved", NOW, by="carol")],
            GoOn(ApprovalAnswer("prod", Answer.REJECTED, NOW, "bob")),
            id="the-first-recorded-answer-is-the-one-the-run-acted-on",
        ),
    ],
)
def test_what_a_try_of_the_approval_does(records, expected):
    assert on_entry(records, "prod", NOW, TIMEOUT) == expected


@pytest.mark.parametrize(
    "answer, expected",
    [
        pytest.param(ApprovalAnswer("prod", Answer.APPROVED, NOW, "alice"), "stage prod was approved by alice at 2026-12-03 10:00:00 UTC", id="approved"),
        pytest.param(ApprovalAnswer("prod", Answer.REJECTED, NOW, "bob"), "stage prod was rejected by bob at 2026-12-03 10:00:00 UTC", id="rejected"),
        pytest.param(ApprovalAnswer("prod", Answer.REJECTED, NOW), "stage prod was rejected at 2026-12-03 10:00:00 UTC", id="rejected-by-nobody-named"),
        pytest.param(
            ApprovalAnswer("prod", Answer.TIMED_OUT, NOW.astimezone(timezone(timedelta(hours=1)))),
            "stage prod was not approved: nobody answered before the deadline, 2026-12-03 10:00:00 UTC",
            id="timed-out-said-in-utc",
        ),
    ],
)
def test_the_sentence_a_report_gives_for_an_answer(answer, expected):
    assert answer.sentence() == expected


def test_an_answer_reads_back_from_the_record_it_writes():
    answer = ApprovalAnswer("prod", Answer.REJECTED, NOW, "bob")
    assert answer.to_fields() == {"stage": "prod", "answer": "rejected", "answered_at": "2026-12-03T10:00:00Z", "by": "bob"}
    assert recorded_answer([{"kind": "approval_answered", **answer.to_fields()}], "prod") == answer
    assert recorded_answer([{"kind": "approval_answered", **answer.to_fields()}], "test") is None
