"""Omni's database backends: ``omni.db.postgresql`` is Django's PostgreSQL backend with savepoints
that cost no round trip of their own (see its ``base``)."""
