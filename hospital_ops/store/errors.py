"""Errors of the store. Every message names the record and the reason; none carries a traceback
to the user. All derive from :class:`StoreError`."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class InvalidInputError(StoreError, ValueError):
    """A value is missing, of the wrong kind or out of range; the message names the field."""


class NotFoundError(StoreError, LookupError):
    """No record with that id."""


class DuplicateError(StoreError):
    """A record with that id (or unique key) already exists."""


class IllegalTransitionError(StoreError):
    """A task status change that ``hospital_ops.domain.TASK_TRANSITIONS`` does not allow."""


class SchemaError(StoreError):
    """The database schema is missing, behind or ahead of this code; the message says what to run."""
