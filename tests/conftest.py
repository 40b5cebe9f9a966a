"""Shared fixtures: built-in hosts and their frameworks are cached per session (they are pure)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from structures.framework import DefectFramework
from structures.hosts import load_host

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@lru_cache(maxsize=None)
def framework(host: str, dims: tuple[int, int, int]) -> DefectFramework:
    return DefectFramework.from_host(load_host(host), dims)


@pytest.fixture(scope="session")
def li2mno3_cell() -> DefectFramework:
    """Conventional 24-atom Li2MnO3 cell: small enough for brute-force checks."""
    return framework("li2mno3", (1, 1, 1))


@pytest.fixture(scope="session")
def li2mno3_96() -> DefectFramework:
    return framework("li2mno3", (2, 1, 2))


@pytest.fixture(scope="session")
def licoo2_108() -> DefectFramework:
    return framework("licoo2", (3, 3, 1))
