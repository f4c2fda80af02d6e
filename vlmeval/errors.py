"""Errors the user can act on. Each carries one line naming the file, row or sample at fault."""

from __future__ import annotations


class VlmevalError(Exception):
    """Base of every error the command line prints as one line and exits on."""


class UsageError(VlmevalError):
    """A flag or name the user gave cannot be used (unknown task, bad combination)."""


class DataError(VlmevalError):
    """A dataset file or hub copy cannot be used: unreadable, missing column, empty split."""


class ImageError(VlmevalError):
    """One sample's image cannot be decoded; recorded for that sample, the run goes on."""


class ModelError(VlmevalError):
    """A model path or hub id cannot be loaded."""


class PredictionsError(VlmevalError):
    """A predictions file cannot be used: bad JSON line, unknown or duplicate ids."""
