"""The NEB engine's bookkeeping: what it reports is what it did."""

from __future__ import annotations

import numpy as np
import pytest

from structures import DefectFramework, enumerate_hops, hop_endpoints, load_host
from structures.configurations import configuration_from_defects
from structures.hops import interpolate_hop
from workflows.calculators import mock_calculator
from workflows.engine import run_neb


def _pristine_band():
    """IDPP images of the first Li hop of pristine Li2MnO3 (2x1x1)."""
    framework = DefectFramework.from_host(load_host("li2mno3"), (2, 1, 1))
    pristine = configuration_from_defects(framework, [])
    return interpolate_hop(*hop_endpoints(framework, pristine, enumerate_hops(framework, pristine)[0]), 5)


def _counting_mock_factory():
    """A factory of band mock calculators and the count of model evaluations they made."""
    made = [0]

    def counted_mock():
        calc = mock_calculator(mobile=(-1,))
        calculate = calc.calculate

        def counted(*args, **kwargs):
            made[0] += 1
            return calculate(*args, **kwargs)

        calc.calculate = counted
        return calc

    return counted_mock, made


@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs", "ode", "fire"])
def test_a_band_reports_the_model_calls_it_made(optimizer):
    """force_calls counts calculator evaluations, not band evaluations: the ODE optimizer asks for
    the band's forces again to log each step, which the images' calculators answer from their
    cache (counting those inflated a band's calls by one band per step: 242 reported, 132 made)."""
    factory, made = _counting_mock_factory()
    outcome = run_neb(_pristine_band(), factory, fmax=0.05, steps=300, optimizer=optimizer)
    assert outcome.converged
    assert outcome.force_calls == made[0]


def test_known_end_energies_spare_two_model_calls_and_change_nothing():
    """A hop's end points were just relaxed with this model at these positions: the band takes
    their energies instead of evaluating them again, and finds the same profile."""
    images = _pristine_band()
    factory, made = _counting_mock_factory()
    evaluated = run_neb(images, factory, fmax=0.05, steps=300)
    calls_evaluating_ends = made[0]
    made[0] = 0
    given = run_neb(images, factory, fmax=0.05, steps=300, end_energies=(evaluated.energies[0], evaluated.energies[-1]))
    assert given.converged and given.force_calls == made[0] == calls_evaluating_ends - 2
    assert given.energies == pytest.approx(evaluated.energies, abs=1e-9)


def _symmetric_band(n_images: int = 5):
    """IDPP images of a 4h -> 4h hop of pristine Li2MnO3 (2x1x1), and the hop's mirror."""
    from structures.hops import hop_mirror

    framework = DefectFramework.from_host(load_host("li2mno3"), (2, 1, 1))
    pristine = configuration_from_defects(framework, [])
    hop = enumerate_hops(framework, pristine)[0]
    mirror = hop_mirror(framework, pristine, hop)
    assert mirror is not None
    return interpolate_hop(*hop_endpoints(framework, pristine, hop), n_images), mirror


@pytest.mark.parametrize("optimizer", ["lbfgs", "ode"])
def test_a_symmetric_hops_band_runs_the_model_on_half_of_it_and_finds_the_same_band(optimizer):
    images, mirror = _symmetric_band()
    factory, made = _counting_mock_factory()
    whole = run_neb(images, factory, fmax=0.05, steps=300, optimizer=optimizer)
    calls_whole = made[0]
    made[0] = 0
    half = run_neb(images, factory, fmax=0.05, steps=300, optimizer=optimizer, mirror=mirror)
    assert whole.converged and half.converged and half.n_steps == whole.n_steps
    assert half.energies == pytest.approx(whole.energies, abs=1e-9)
    assert max(abs(a.cart_coords - b.cart_coords).max() for a, b in zip(half.images, whole.images)) < 1e-8
    # images 1-3 (the centre included) call the model, 4 and 5 are mirrored: 3 calls of 5 per
    # evaluation, and one more, image 4 by the model the first time, to check the mirror holds.
    # Then the model's own check of the converged band: images 1-3 have just been evaluated there
    # (their calculators hold it), image 4 once, image 5 twice (its calculator is first shown the
    # image the band started from, as a whole band's was: the mock anchors its atoms there)
    evaluations = (whole.force_calls - 2) // 5  # the two end points, then five images per evaluation
    assert whole.force_calls == 2 + 5 * evaluations
    assert half.force_calls == made[0] == 2 + 3 * evaluations + 1 + 3 and half.mirrored_calls == 2 * evaluations
    assert half.mirror_check["held"] and half.mirror_check["force_difference"] < 1e-9 and half.mirror_check["central_force_asymmetry"] < 1e-9
    assert calls_whole == whole.force_calls and whole.mirrored_calls == 0
    # the model holds to the mirror: its own forces are the mirrored band's, within fmax, so it stops
    check = half.model_check
    assert check["by_model"] and not check["continued_whole"] and max(check["max_force"]) <= 0.05
    assert check["max_force"] == pytest.approx(whole.model_check["max_force"], abs=1e-9)
    assert half.energies == pytest.approx(half.energies[::-1], abs=1e-9)  # the profile is symmetric


def test_a_band_that_is_not_its_own_mirror_runs_whole():
    """A band off the mirror (here image 2 nudged by 0.01 Å) gets no mirrored forces: the mirror
    would give it the wrong ones."""
    images, mirror = _symmetric_band()
    images[2] = images[2].copy()
    images[2].translate_sites([0], [0.01, 0, 0], frac_coords=False)
    factory, made = _counting_mock_factory()
    plain = run_neb(images, factory, fmax=0.05, steps=300)
    offered = run_neb(images, factory, fmax=0.05, steps=300, mirror=mirror)
    assert offered.mirrored_calls == 0 and offered.force_calls == plain.force_calls
    assert offered.energies == plain.energies
    assert offered.mirror_check == {"held": False, "end_energy_difference": 0.0}


def test_an_image_that_leaves_its_partners_mirror_is_evaluated_by_the_model():
    """The check is made at every evaluation: a climbing image off the centre breaks the band's
    symmetry mid-run, and from then on the image it moved is computed, not mirrored."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from workflows.engine import BandMirror, _mirror_calculators

    images, mirror = _symmetric_band()
    atoms = [AseAtomsAdaptor.get_atoms(s) for s in images]
    band_mirror = BandMirror(mirror, atoms[0].cell)
    factory, made = _counting_mock_factory()
    MirrorImage, _, _ = _mirror_calculators(band_mirror, factory)
    atoms[1].calc = factory()
    atoms[5].calc = MirrorImage(atoms[1])
    reference = factory()
    on_mirror = atoms[5].get_forces()
    assert atoms[5].calc.mirrored == 1 and made[0] == 1  # only the partner ran the model
    assert on_mirror == pytest.approx(reference.get_forces(atoms[5].copy()), abs=1e-9)  # and the mirror is right
    atoms[5].positions[-1] += [0.05, 0.0, 0.0]
    moved = atoms[5].get_forces()
    assert atoms[5].calc.mirrored == 1 and made[0] == 3  # the model ran for the moved image
    assert moved == pytest.approx(reference.get_forces(atoms[5].copy()), abs=1e-9)


def _odd_bump(images, slope: float, width: float, base):
    """A calculator factory: ``base`` plus a term on the moving Li that is odd across the hop's
    middle, s·exp(−s²/2w²) along the hop (``slope`` eV/Å at the middle), so a model that the hop's
    mirror (the plane through its middle, across it) does not hold to, while the two end points,
    several widths away, keep their mirror energies. Energy and forces stay consistent."""
    start, end = images[0][-1].coords, images[-1][-1].coords
    middle, axis = 0.5 * (start + end), (end - start) / np.linalg.norm(end - start)

    def make():
        calc = base()
        calculate = calc.calculate

        def with_bump(atoms=None, properties=("energy",), system_changes=None, **kwargs):
            calculate(atoms, properties, system_changes or ["positions"])
            s = float(np.dot(calc.atoms.positions[-1] - middle, axis))
            g = np.exp(-s * s / (2 * width**2))
            calc.results["energy"] += slope * s * g
            calc.results["free_energy"] = calc.results["energy"]
            calc.results["forces"] = calc.results["forces"].copy()
            calc.results["forces"][-1] -= slope * g * (1 - s * s / width**2) * axis

        calc.calculate = with_bump
        return calc

    return make


@pytest.mark.parametrize("n_images", [5, 4])
def test_a_model_the_mirror_does_not_hold_for_gets_its_band_run_whole(n_images):
    """The mock with a push on the moving Li that is odd across the hop's mirror plane: the mirror
    image's forces are not the mirror of its partner's. The band finds that out before any
    mirrored number is used, and runs whole: from the central image's forces, or, in a band with
    no central image, from the model run once on the first mirror image."""
    from workflows.engine import MIRROR_CHECK_FORCE

    images, mirror = _symmetric_band(n_images)
    factory, _ = _counting_mock_factory()
    pushed = _odd_bump(images, 0.1, 0.25, factory)  # at the end points, 1.4 Å away: 2e-8 eV
    plain = run_neb(images, pushed, fmax=0.05, steps=5)
    offered = run_neb(images, pushed, fmax=0.05, steps=5, mirror=mirror)
    # off their mirror by 2 x 0.1 eV/Å at the centre
    told = offered.mirror_check["central_force_asymmetry" if n_images % 2 else "force_difference"]
    assert not offered.mirror_check["held"] and told > MIRROR_CHECK_FORCE
    if n_images % 2:
        assert told == pytest.approx(0.2)
    assert offered.mirrored_calls == 0 and offered.force_calls == plain.force_calls  # the check's call is image 4's own
    assert offered.energies == pytest.approx(plain.energies, abs=1e-8)


class _HopToy:
    """A stateless toy model of one Li hop, smooth enough to converge a band to 2 meV/Å: every atom
    but the moving Li tied by a spring to where it sits in the initial end point (which the hop's
    mirror maps onto the final one), the moving Li in a cos² barrier of 0.5 eV along the hop and a
    harmonic channel across it. Symmetric under the hop's mirror; ``odd`` adds the odd bump."""

    def __init__(self, images, odd: float = 0.0, width: float = 0.2):
        self.reference = images[0].cart_coords
        start, end = images[0][-1].coords, images[-1][-1].coords
        self.length = float(np.linalg.norm(end - start))
        self.middle, self.axis = 0.5 * (start + end), (end - start) / self.length
        self.odd, self.width = odd, width

    def __call__(self):
        from ase.calculators.calculator import Calculator, all_changes

        toy = self

        class HopToy(Calculator):
            implemented_properties = ["energy", "free_energy", "forces"]

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                cell, positions = np.array(self.atoms.cell), self.atoms.positions
                shift = (positions[:-1] - toy.reference[:-1]) @ np.linalg.inv(cell)
                shift = (shift - np.round(shift)) @ cell
                forces = np.zeros_like(positions)
                forces[:-1] = -5.0 * shift
                p = positions[-1] - toy.middle
                s = float(p @ toy.axis)
                across = p - s * toy.axis
                g = np.exp(-s * s / (2 * toy.width**2))
                energy = 2.5 * float((shift**2).sum()) + 0.5 * np.cos(np.pi * s / toy.length) ** 2 + float(across @ across) + toy.odd * s * g
                slope = -0.5 * np.pi / toy.length * np.sin(2 * np.pi * s / toy.length) + toy.odd * g * (1 - s * s / toy.width**2)
                forces[-1] = -slope * toy.axis - 2.0 * across
                self.results = {"energy": energy, "free_energy": energy, "forces": forces}

        return HopToy()


@pytest.mark.parametrize("optimizer", ["lbfgs", "ode"])
def test_a_mirrored_band_whose_model_forces_exceed_fmax_is_continued_whole(optimizer):
    """A model that misses the hop's mirror by less than the band's own check lets (0.009 eV/Å of
    asymmetry at the centre, under MIRROR_CHECK_FORCE) converges a mirrored band on the model made
    symmetric: its central, climbing image is 4.5 meV/Å off the model's own force, over this band's
    fmax (2 meV/Å). The model's check finds that on the converged band; the band goes on whole,
    on the model alone, and ends where the whole band does. A model that holds to the mirror
    passes the same check and stops."""
    images, mirror = _symmetric_band()
    fmax = 0.002
    for odd, continued in ((0.0045, True), (0.0, False)):
        model = _HopToy(images, odd=odd)
        whole = run_neb(images, model, fmax=fmax, steps=300, optimizer=optimizer)
        half = run_neb(images, model, fmax=fmax, steps=300, optimizer=optimizer, mirror=mirror)
        assert whole.converged and half.converged and half.mirror_check["held"]
        check = half.model_check
        assert check["by_model"] and check["continued_whole"] is continued and len(check["max_force"]) == 5
        assert max(check["max_force"]) <= fmax  # converged on the model's own forces
        if continued:
            assert max(check["mirrored_max_force"]) <= fmax < max(check["checked_max_force"])
            assert check["checked_max_force"][2] == pytest.approx(odd, abs=1e-4)  # the central image, its odd push
            assert check["steps_whole"] > 0 and half.n_steps > whole.n_steps
        else:
            assert check["steps_whole"] == 0 and half.n_steps == whole.n_steps
        # where the whole band ends: the saddle to 0.1 meV (both within fmax of it)
        assert max(half.energies) == pytest.approx(max(whole.energies), abs=1e-4)
        assert half.energies[0] == whole.energies[0] and half.energies[-1] == whole.energies[-1]  # the model's own end energies
