"""What a file is, told by its first bytes, and what each image format is called on the wire and on disk:
one table for the edit route's checks, the upload route's detected MIME type, the answers' hosted images and
the cassettes' file names."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXTENSIONS", "MEDIA_TYPES", "Kind", "media_type_of", "sniff"]


@dataclass(frozen=True)
class Kind:
    """A kind of file: its name (an output format's name for images), MIME type and file extension."""

    name: str
    media_type: str
    extension: str


PNG = Kind("png", "image/png", "png")
JPEG = Kind("jpeg", "image/jpeg", "jpg")
WEBP = Kind("webp", "image/webp", "webp")
GIF = Kind("gif", "image/gif", "gif")
PDF = Kind("pdf", "application/pdf", "pdf")

#: first bytes and the kind they announce (WebP: "RIFF", four bytes of length, then "WEBP")
_SIGNATURES: tuple[tuple[bytes, Kind], ...] = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"%PDF-", PDF),
)
_KINDS = (PNG, JPEG, WEBP, GIF, PDF)

#: the output formats' MIME types and file extensions
MEDIA_TYPES = {k.name: k.media_type for k in (PNG, JPEG, WEBP)}
EXTENSIONS = {k.name: k.extension for k in (PNG, JPEG, WEBP)}
_BY_EXTENSION = {k.extension: k.media_type for k in _KINDS}


def sniff(data: bytes | memoryview) -> Kind | None:
    """The kind ``data`` says it is by its first bytes, or None."""
    head = bytes(data[:16])
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def media_type_of(file_name: str) -> str:
    """The MIME type a file name's extension stands for (``application/octet-stream`` for any other)."""
    return _BY_EXTENSION.get(file_name.rpartition(".")[2], "application/octet-stream")
