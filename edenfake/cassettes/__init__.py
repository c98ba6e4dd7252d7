"""Cassettes: exchanges with the real service, kept as a directory a person can read and diff, and replayed.

format.py     the directory on disk (contracts/cassette.schema.json states a line), loading and checking it
              whole, reading files back safely, writing an answer's bytes back
matching.py   requests as a cassette keeps them, the match key replay compares, their differences
scrub.py      secrets kept out: URLs stripped of their query, every JSON and URL spelling of a secret
writing.py    answers as a cassette keeps them, the writer, the staged cassette a test records into
recording.py  the upstream (bounded reads), the Recording source, the proxy door of ``edenfake record``
replay.py     the Replay source, the NOT_RECORDED answer, what the journal keeps of a replayed answer
session.py    one test's cassette for the pytest plugin
har.py        HAR 1.2 logs (devtools, playwright, mitmproxy, Polly.js) read as exchanges, checked field by field
vcr.py        vcrpy cassettes (YAML read safely: no anchors, no tag but !!binary; JSON) read as exchanges
importing.py  ``edenfake import``: sources into a new cassette through the recorder's describe-and-write path
"""
