"""The command line's parser: argparse's, keeping the options each command declares.

``Parser.declared`` lists the actions ``add_argument`` made on the parser and on its argument
groups (what ``--config`` files may set and what ``--resume`` compares with the defaults), so
that nothing reads argparse's private ``_actions``.
"""

from __future__ import annotations

import argparse
from typing import Any


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose ``declared`` holds every action added to it. Each
    parser sets ``command_parser`` to itself, so that the parsed arguments name the deepest
    (sub)command's parser, whose usage an error shows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.set_defaults(command_parser=self)

    @property
    def declared(self) -> list[argparse.Action]:
        return self.__dict__.setdefault("_declared", [])  # type: ignore[no-any-return]

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.declared.append(action)
        return action

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        return self._recording(super().add_argument_group(*args, **kwargs))

    def add_mutually_exclusive_group(self, **kwargs: Any) -> Any:
        return self._recording(super().add_mutually_exclusive_group(**kwargs))

    def _recording(self, group: Any) -> Any:
        """``group`` with its ``add_argument`` (and its own groups') recorded here too."""
        add, mutually_exclusive = group.add_argument, group.add_mutually_exclusive_group

        def add_argument(*args: Any, **kwargs: Any) -> argparse.Action:
            action: argparse.Action = add(*args, **kwargs)
            self.declared.append(action)
            return action

        group.add_argument = add_argument
        group.add_mutually_exclusive_group = lambda **kw: self._recording(mutually_exclusive(**kw))
        return group

    def defaults(self) -> dict[str, Any]:
        """Each declared option's default, by destination."""
        return {action.dest: action.default for action in self.declared}
