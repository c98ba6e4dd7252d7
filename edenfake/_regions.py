"""The regions models are served from (the catalog's ``regions``): which host pins which region, what
``model@CODE`` names, and which models a region serves. The catalog holds one; the core and the model
listings read it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar

from edenfake import contracts
from edenfake.errors import CatalogError

__all__ = ["Regions", "served_in"]


class _Served(Protocol):
    regions: list[str]
    edits: bool


M = TypeVar("M", bound=_Served)


class Regions:
    """Region code -> its name and the hosts that pin it (``contracts/catalog.schema.json``'s ``regions``)."""

    def __init__(self, regions: Mapping[str, Mapping[str, Any]]) -> None:
        self.by_code = {code: dict(region) for code, region in regions.items()}
        self._hosts = {host: code for code, region in regions.items() for host in region.get("hosts", ())}

    @classmethod
    def from_catalog(cls, data: Mapping[str, Any]) -> Regions:
        """The regions a catalog's data names, or the catalog contract's default ones."""
        return cls(data.get("regions", contracts.load("catalog")["properties"]["regions"]["default"]))

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def name(self, code: str) -> str:
        return str(self.by_code[code]["name"])

    def check(self, model_id: str, codes: Iterable[str], source: str) -> None:
        """CatalogError unless every one of a model's region ``codes`` is one of these regions."""
        unknown = [code for code in codes if code not in self.by_code]
        if unknown:
            raise CatalogError(
                f"{source}: model {model_id}: regions {', '.join(unknown)} are not among the catalog's regions "
                f"({', '.join(self.by_code) or 'none'})"
            )

    def of_host(self, host: str | None) -> str | None:
        """The code of the region whose ``hosts`` name ``host`` (a Host header or a URL's authority; the port
        is ignored), or None: a host of no region serves every region."""
        if not host:
            return None
        name = host.strip().lower()
        name = name.partition("]")[0] + "]" if name.startswith("[") else name.partition(":")[0]
        return self._hosts.get(name.rstrip("."))

    def split(self, model_id: str) -> tuple[str, str | None]:
        """``model@CODE`` as (model, CODE) when CODE is one of these regions; else (model_id, None)."""
        base, at, code = model_id.rpartition("@")
        if at and base and code in self.by_code:
            return base, code
        return model_id, None


def served_in(models: Iterable[M], region: str | None, *, edits: bool = False) -> list[M]:
    """The ``models`` served in ``region`` (None: all of them), those that edit only when ``edits``."""
    return [m for m in models if (region is None or region in m.regions) and (m.edits or not edits)]
