"""Just enough Dockerfile and .dockerignore parsing for the static infra tests (no container engine here)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: upper-case keyword and its arguments (exec form decoded)."""

    keyword: str
    args: list[str]


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order; comment lines dropped, ``\\`` continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and pending):
            continue  # comments may sit inside a continued instruction; Docker drops them
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        if pending or line:
            logical.append(pending + line)
        pending = ""
    instructions = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        rest = rest.strip()
        if rest.startswith("["):
            try:
                args = json.loads(rest)
            except ValueError:
                args = rest.split()
        else:
            args = rest.split()
        instructions.append(Instruction(keyword.upper(), [str(a) for a in args]))
    return instructions


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax: ``**`` any depth, ``*``/``?`` within one path element, ``[...]`` classes."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def dockerignore_excludes(ignore_text: str, path: str) -> bool:
    """True when ``path`` (relative to the build context) is left out of the context.

    Like Docker: a pattern matching a parent directory matches the path, later lines win, ``!`` re-includes.
    """
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for line in ignore_text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:].strip() if negate else line
        pattern = pattern.strip("/")
        if any(_regex(pattern).fullmatch(c) for c in candidates):
            excluded = not negate
    return excluded
