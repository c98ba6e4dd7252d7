"""One test's cassette for the pytest plugin: ``cassettes/<module>/<test>/`` beside the test file, replayed,
extended with what it lacks, or recorded afresh (``--edenfake-record=none|once|rewrite``)."""

from __future__ import annotations

import os
from pathlib import Path

from edenfake import _options
from edenfake.cassettes.format import EXCHANGES, Cassette, CassetteError
from edenfake.cassettes.recording import Recording, Upstream
from edenfake.cassettes.replay import Replay, Source, check_unmatched
from edenfake.cassettes.writing import StagedCassette

__all__ = ["RECORD_MODES", "CassetteSession", "cassette_dir"]

#: --edenfake-record: replay only / record what is missing / record afresh
RECORD_MODES = _options.RECORD_MODES


def cassette_dir(test_file: str | os.PathLike[str], test_name: str, cassette: object) -> Path:
    """``cassettes/<module>/<test>/`` beside the test file (``cassette`` True), or ``.../<module>/<name>/``."""
    if isinstance(cassette, str):
        if not cassette.strip(" ."):
            raise ValueError(f"cassette= takes True or a name that is not empty, got {cassette!r}")
        name = cassette
    elif cassette is True:
        name = test_name
    else:
        raise TypeError(f"cassette= takes True or a name, got {cassette!r}")
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name).strip(".") or "_"
    path = Path(test_file)
    return path.parent / "cassettes" / path.stem / safe


class CassetteSession:
    """One test's cassette: replayed (mode "none"), extended with what is missing ("once") or recorded afresh
    ("rewrite"). What is recorded is staged beside the cassette and moved into place only when the test
    passes: a test that fails while recording, or whose fixture cannot start, leaves the old cassette (or
    none), never half of one and never a staging directory."""

    def __init__(self, directory: Path, mode: str, upstream: str, *, unmatched: str = "error") -> None:
        if mode not in RECORD_MODES:
            raise ValueError(f"--edenfake-record takes {', '.join(RECORD_MODES)}, got {mode!r}")
        check_unmatched(unmatched)
        self.directory = directory
        self.mode = mode
        self.upstream_url = upstream
        self.unmatched = unmatched
        self.staged: StagedCassette | None = None
        self.recording: Recording | None = None

    def source(self) -> Source:
        exists = (self.directory / EXCHANGES).is_file()
        if self.mode == "none":
            if not exists:
                raise CassetteError(
                    f"no cassette at {self.directory}; record it with pytest --edenfake-record=once "
                    "(--edenfake-upstream URL for another service than the real one)"
                )
            return Replay(self.directory, unmatched=self.unmatched)
        # Everything that can fail comes before the staging directory, or takes it away again.
        old = Cassette.load(self.directory) if exists and self.mode == "once" else None
        replay = Replay(old, unmatched="fake") if old is not None else None
        upstream = Upstream(self.upstream_url)
        self.staged = StagedCassette(self.directory, keep=old)
        self.recording = Recording(upstream, self.staged.writer, replay=replay)
        return self.recording

    def finish(self, *, passed: bool) -> None:
        """Keep what was recorded if the test passed and something new was recorded, or there was no cassette
        (a test whose every request a fault answered, or that sent none, gets an empty one: replay then finds
        it); else leave things as they were. A recording that could not be written fails the test."""
        staged, recording = self.staged, self.recording
        self.staged = self.recording = None
        if staged is None:
            return
        if recording is None:
            staged.discard()
            return
        recording.upstream.close()
        errors = recording.errors
        wanted = staged.writer.count or not (self.directory / EXCHANGES).is_file()
        if passed and not errors and wanted:
            staged.commit()
        else:
            staged.discard()
        if passed and errors:
            raise CassetteError(f"the cassette {self.directory} was not saved:\n  " + "\n  ".join(errors))
