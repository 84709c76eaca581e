"""Offline tooling: the template deployed into an emulated AWS (moto), S3 event delivery as S3
does it, and the demo. Needs the `local` extra; nothing here is deployed to Lambda."""
