"""Registers the toy task of ``tests/toy_task.py`` when imported: what ``RNNKIT_TASKS`` names
for ``rnnkit serve`` to know it (the tests register it themselves, and unregister it after)."""

from rnnkit.tasks.registry import register
from tests.toy_task import SPEC

register(SPEC)
