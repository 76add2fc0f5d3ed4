"""`with x:` for objects that hold connections or processes (warehouses, ETL engines)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["Closeable"]


class Closeable:
    """``with x:`` closes ``x`` at the end; engines and warehouses hold connections."""

    def close(self) -> None:
        """Release what the object holds (default: nothing)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
