"""Loaded first (``-p tests._bytecode`` in pyproject's addopts), before pytest autoloads the installed plugins:
bytecode caches are written and read, as in a user's Python.

An inherited PYTHONDONTWRITEBYTECODE made each pytest process (this one, each xdist worker, each nested run)
re-rewrite the assertions of every module of the autoloaded plugins (schemathesis, hypothesis, anyio: about
4 s of CPU a process), and each ``python -m edenfake`` the tests start recompile edenfake's modules. Set here,
before any plugin is imported, it reaches the plugins, the test modules, what they import, and every process
the tests start."""

from __future__ import annotations

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
