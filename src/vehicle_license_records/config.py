"""The records function's configuration, parsed once at start-up like the intake function's."""

from __future__ import annotations

from dataclasses import dataclass

from vehicle_license_intake.config import env_setting, load_from_env, positive, text


def _days(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {raw!r}")
    return value


@dataclass(frozen=True)
class RecordsSettings:
    results_table_name: str
    vehicle_table_name: str
    event_bus_name: str = env_setting("", text)
    # Optimistic writes of one record: attempts before the message goes back to its queue.
    record_write_attempts: int = env_setting(8, positive(int))
    # > 0: a record expires (DynamoDB TTL on `expires_at`) this long after its last change, like
    # the results it is made of.
    result_retention_days: int = env_setting(0, _days)

    @classmethod
    def from_env(cls) -> RecordsSettings:
        return load_from_env(cls)
