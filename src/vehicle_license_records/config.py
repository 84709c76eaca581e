"""The records function's configuration, parsed once at start-up like the intake function's."""

from __future__ import annotations

from dataclasses import dataclass

from vehicle_license_intake.config import env_setting, load_from_env, positive, text


@dataclass(frozen=True)
class RecordsSettings:
    results_table_name: str
    vehicle_table_name: str
    event_bus_name: str = env_setting("", text)
    # Optimistic writes of one record: attempts before the message goes back to its queue.
    record_write_attempts: int = env_setting(8, positive(int))

    @classmethod
    def from_env(cls) -> RecordsSettings:
        return load_from_env(cls)
