"""The NEB engine's bookkeeping: what it reports is what it did."""

from __future__ import annotations

import pytest

from structures import DefectFramework, enumerate_hops, hop_endpoints, load_host
from structures.configurations import configuration_from_defects
from structures.hops import interpolate_hop
from workflows.calculators import mock_calculator
from workflows.engine import run_neb


@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs", "ode", "fire"])
def test_a_band_reports_the_model_calls_it_made(optimizer):
    """force_calls counts calculator evaluations, not band evaluations: the ODE optimizer asks for
    the band's forces again to log each step, which the images' calculators answer from their
    cache (counting those inflated a band's calls by one band per step: 242 reported, 132 made)."""
    framework = DefectFramework.from_host(load_host("li2mno3"), (2, 1, 1))
    pristine = configuration_from_defects(framework, [])
    images = interpolate_hop(*hop_endpoints(framework, pristine, enumerate_hops(framework, pristine)[0]), 5)
    made = [0]

    def counted_mock():
        calc = mock_calculator(mobile=(-1,))
        calculate = calc.calculate

        def counted(*args, **kwargs):
            made[0] += 1
            return calculate(*args, **kwargs)

        calc.calculate = counted
        return calc

    outcome = run_neb(images, counted_mock, fmax=0.05, steps=300, optimizer=optimizer)
    assert outcome.converged
    assert outcome.force_calls == made[0]


def test_known_end_energies_spare_two_model_calls_and_change_nothing():
    """A hop's end points were just relaxed with this model at these positions: the band takes
    their energies instead of evaluating them again, and finds the same profile."""
    framework = DefectFramework.from_host(load_host("li2mno3"), (2, 1, 1))
    pristine = configuration_from_defects(framework, [])
    images = interpolate_hop(*hop_endpoints(framework, pristine, enumerate_hops(framework, pristine)[0]), 5)
    made = [0]

    def counted_mock():
        calc = mock_calculator(mobile=(-1,))
        calculate = calc.calculate

        def counted(*args, **kwargs):
            made[0] += 1
            return calculate(*args, **kwargs)

        calc.calculate = counted
        return calc

    evaluated = run_neb(images, counted_mock, fmax=0.05, steps=300)
    calls_evaluating_ends = made[0]
    made[0] = 0
    given = run_neb(images, counted_mock, fmax=0.05, steps=300, end_energies=(evaluated.energies[0], evaluated.energies[-1]))
    assert given.converged and given.force_calls == made[0] == calls_evaluating_ends - 2
    assert given.energies == pytest.approx(evaluated.energies, abs=1e-9)
