"""The NEB engine's bookkeeping: what it reports is what it did."""

from __future__ import annotations

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
