"""Supercell choice is reproducible and respects the image distance and atom budget."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice

from structures.errors import LroxInputError
from structures.hosts import load_host
from structures.supercell import choose_supercell, min_image_distance, most_compact_supercell_matrix, parse_supercell


def test_min_image_distance_of_simple_lattices():
    assert min_image_distance(Lattice.cubic(4.0)) == pytest.approx(4.0)
    # fcc primitive cell: shortest vector a/sqrt(2)
    fcc = Lattice([[0, 2, 2], [2, 0, 2], [2, 2, 0]])
    assert min_image_distance(fcc) == pytest.approx(np.sqrt(8))
    # a skewed basis of the same lattice gives the same answer
    skew = Lattice(np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]]) @ fcc.matrix)
    assert min_image_distance(skew) == pytest.approx(np.sqrt(8))


def test_smallest_cell_reaching_the_distance_is_chosen():
    s = load_host("li2mno3").structure
    dims = choose_supercell(s, min_distance=8.0, max_atoms=250)
    lattice = Lattice(np.diag(dims) @ s.lattice.matrix)
    assert min_image_distance(lattice) >= 8.0
    n_atoms = len(s) * int(np.prod(dims))
    # no cell with fewer atoms reaches 8 Å
    for cand in np.ndindex(4, 4, 4):
        cand = tuple(c + 1 for c in cand)
        if len(s) * int(np.prod(cand)) < n_atoms:
            assert min_image_distance(Lattice(np.diag(cand) @ s.lattice.matrix)) < 8.0
    assert choose_supercell(s, min_distance=8.0) == dims  # reproducible


def test_explicit_supercell_is_checked():
    s = load_host("li2mno3").structure
    assert choose_supercell(s, supercell=(2, 1, 2), min_distance=8.0) == (2, 1, 2)
    with pytest.raises(LroxInputError, match="minimum image distance of 4.93"):
        choose_supercell(s, supercell=(1, 1, 1), min_distance=8.0)
    with pytest.raises(LroxInputError, match="more than the maximum of 50"):
        choose_supercell(s, supercell=(2, 2, 2), max_atoms=50)
    with pytest.raises(LroxInputError, match="no supercell of at most 30 atoms"):
        choose_supercell(s, min_distance=10.0, max_atoms=30)
    with pytest.raises(LroxInputError, match="must be positive"):
        choose_supercell(s, min_distance=-1.0)


@pytest.mark.parametrize("text", ["2x1", "0x1x1", "axbxc", "2x1x2x3", ""])
def test_bad_supercell_strings(text):
    with pytest.raises(LroxInputError):
        parse_supercell(text)


def test_parse_supercell():
    assert parse_supercell("2x1x2") == (2, 1, 2)
    assert parse_supercell("3X3X1") == (3, 3, 1)


def test_most_compact_supercell_has_the_right_index():
    lattice = load_host("li2mno3").structure.get_primitive_structure().lattice
    m = most_compact_supercell_matrix(lattice, 5)
    assert round(abs(np.linalg.det(m))) == 5
