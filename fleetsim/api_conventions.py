"""What every SSM action fleetsim answers shares: SSM's error answers, paging tokens, timestamps, request readers.

Each area of the API is a mixin built on `FleetActions` (fleetsim.api_run_command,
fleetsim.api_instances, fleetsim.api_baselines, fleetsim.api_compliance,
fleetsim.api_maintenance_windows);
fleetsim.models composes them into the response class moto dispatches to.
"""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Sequence

from moto.ssm.exceptions import SSMException

from fleetsim import baselines as baseline_rules

if TYPE_CHECKING:
    from fleetsim.models import FleetSSMBackend

INSTANCE_ID_PATTERN = re.compile(r"(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)")


def error(code: str, message: str) -> SSMException:
    # An SSMException, not a bare ServiceException: moto serializes errors with the model of the raising module's service.
    return SSMException(code, message)


def validation(*messages: str) -> SSMException:
    return error("ValidationException", baseline_rules.validation_message(list(messages)))


def constraint(value: object, where: str, rule: str) -> str:
    return f"Value '{value}' at '{where}' failed to satisfy constraint: {rule}"


# ---- pagination and times ----------------------------------------------------------------------


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except Exception:
        pass
    raise error("InvalidNextToken", "The specified token isn't valid.")


def page(items: list, token: str | None, size: int) -> tuple[list, str | None]:
    start = decode_token(token)
    chunk = items[start : start + size]
    return chunk, (encode_token(start + size) if start + size < len(items) else None)


def page_where(items: Sequence, keep: Callable[[Any], bool], token: str | None, size: int) -> tuple[list, str | None]:
    """A page of the items `keep` accepts, in order, testing only as far as the page reaches.

    Its token is the position in `items` to go on from, so a page costs what it skips and answers,
    not the whole list: paging through 100,000 nodes stays linear rather than quadratic.
    """
    chunk: list = []
    for index in range(decode_token(token), len(items)):
        if keep(items[index]):
            if len(chunk) == size:
                return chunk, encode_token(index)
            chunk.append(items[index])
    return chunk, None


def iso(instant: datetime | None) -> str:
    if instant is None:
        return ""
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def elapsed(seconds: float) -> str:
    seconds = max(0.0, seconds)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"PT{hours}H{minutes}M{rest:.3f}S" if hours else f"PT{minutes}M{rest:.3f}S" if minutes else f"PT{rest:.3f}S"


def parse_time(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise error("InvalidFilterValue", f"{where} value {value!r} is not a valid date time, expected ISO 8601 such as 2024-11-20T00:00:00Z.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class FleetActions:
    """The base of every action mixin: the fleet a request is answered from, and request readers with SSM's messages.

    Mixed into fleetsim.models.FleetSSMResponse, a moto SimpleSystemManagerResponse, which supplies
    `_get_param` and `ssm_backend`.
    """

    @property
    def fleet(self) -> FleetSSMBackend:
        return self.ssm_backend  # type: ignore[return-value]

    def _int(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self._get_param(name)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            where = name[0].lower() + name[1:]
            rule = f"Member must have value greater than or equal to {low}" if isinstance(value, int) and value < low else f"Member must have value less than or equal to {high}"
            raise validation(constraint(value, where, rule))
        return value

    def _check_instance_id(self, instance_id: str | None) -> None:
        if instance_id is not None and (not isinstance(instance_id, str) or not INSTANCE_ID_PATTERN.match(instance_id)):
            raise error("InvalidInstanceId", f"Instance ID {instance_id} is not valid.")

    def _patch_group_param(self) -> str:
        group = self._get_param("PatchGroup")
        if not isinstance(group, str) or not 1 <= len(group) <= 256 or not baseline_rules.PATCH_GROUP_PATTERN.match(group):
            raise validation(constraint(group, "patchGroup", "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"))
        return group
