"""The license and its fields. Pure Python: no boto3, no requests, no I/O."""

from vehicle_license_intake.domain.fields import LICENSE_FIELDS, license_fields_from
from vehicle_license_intake.domain.validation import ValidatedLicense, validate_license

__all__ = ["LICENSE_FIELDS", "ValidatedLicense", "license_fields_from", "validate_license"]
