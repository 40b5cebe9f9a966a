"""A screen, described in YAML, validated before any job runs.

Example (``examples/li2mno3_quick.yaml``)::

    name: li2mno3_quick
    host: li2mno3
    supercell: 2x1x1
    dopants: [Ti:tm]
    vacancies: [O]
    hops: {per_configuration: 1}
    backend: mlip

Unknown keys, wrong types, unknown backends or models and missing structure
files are :class:`LroxInputError` with one line naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from structures.errors import LroxInputError
from descriptors.physics.levels import DEFAULT_MODEL
from workflows.gpaw_calculators import GpawDftSettings
from workflows.gpaw_static import GpawSettings

__all__ = ["Backend", "HopSelection", "Limits", "MlipSettings", "VaspSettings", "MockSettings", "ScreenSpec", "load_spec"]


class Backend(str, Enum):
    """Where energies and forces come from."""

    VASP = "vasp"  # atomate2 VASP makers: the production path on clusters
    MLIP = "mlip"  # a pretrained universal ML potential shipped in its pip wheel: runs here
    MOCK = "mock"  # deterministic toy calculator: plumbing only, never physics
    # GPAW PBE+U (open source, runs here): fixed-cell relaxations and CI-NEB, settings in 'gpaw_dft'
    GPAW = "gpaw"


@dataclass
class HopSelection:
    """Which Li hops get a CI-NEB: the nearest distinct hops around each defect."""

    cutoff: float = 3.5  # Å, longest Li–Li hop
    per_configuration: int = 2  # hops per defect configuration, nearest to the defect first
    max_defect_distance: float = 5.0  # Å, hop midpoint to the defect
    host_reference: bool = True  # also run the same hops in the pristine host
    # also the nearest hop of each n-TM class that a divacancy opens to the tetrahedral path (TSH):
    # the hops nearest a Li vacancy end in it (mono-vacancy dumbbell hops), so without these no
    # Li-vacancy screen tests TSH or its n-TM ordering. A number N: the N nearest of each class
    # (true = 1, false = 0), for a screen that must rank tetrahedral barriers, not only find one
    nearest_tsh: bool | int = True
    # also hops *beside* an O vacancy, not through its edge: in each configuration whose defects are
    # all O vacancies, N hops with their O–O edge intact and their midpoint 2–4 Å from the vacancy,
    # the nearest in each of N equal shells of that range, so that their distances spread across it
    # (workflows.flows.hops_beside_vacancy). The hops nearest a vacancy cross its edge (V_O-edge);
    # without these a screen cannot tell a vacancy's effect on its neighbours from the lost edge O
    beside_vacancy: int = 0
    # which defect configurations get hops: ids, exact names, or name prefixes ending in '*'
    # ("V_O(*": the isolated O vacancies, not the pairs that contain one); empty: all. The others
    # are relaxed only (energies, E_vac(O), geometry): the way to keep a screen's many pairs cheap.
    configurations: list[str] = field(default_factory=list)

    @property
    def tsh_per_class(self) -> int:
        return int(self.nearest_tsh) if isinstance(self.nearest_tsh, bool) else self.nearest_tsh

    def selects(self, name: str, configuration_id: str) -> bool:
        return not self.configurations or any(self.token_selects(t, name, configuration_id) for t in self.configurations)

    @staticmethod
    def token_selects(token: str, name: str, configuration_id: str) -> bool:
        return token in (name, configuration_id) or (token.endswith("*") and name.startswith(token[:-1]))


class NebOptimizer(str, Enum):
    """ASE optimizer of the band: ``lbfgs`` (LBFGS on the whole band; fewest force calls, measured in
    benchmarks/RESULTS.md), ``bfgs`` (the same steps on our hops, with a full Hessian diagonalised
    every step), ``ode`` (ASE's NEBOptimizer, adaptive ODE steps) or ``fire`` (atomate2's and most
    codes' choice)."""

    LBFGS = "lbfgs"
    BFGS = "bfgs"
    ODE = "ode"
    FIRE = "fire"


@dataclass
class MlipSettings:
    """ML-potential settings. Defaults: fixed-cell relaxations of defect supercells, CI-NEB at 0.05 eV/Å."""

    # a model of workflows.calculators.ML_MODELS, or a list of them: a committee, its own level of
    # theory, each member run end to end (see workflows.calculators.committee_members)
    model: str | list[str] = DEFAULT_MODEL
    relax_fmax: float = 0.05  # eV/Å
    relax_steps: int = 300
    relax_host_cell: bool = True  # the pristine host relaxes its cell; defect cells keep it
    neb_fmax: float = 0.05  # eV/Å on the climbing image: tighter than atomate2's 0.1, barriers to ~0.01 eV
    neb_steps: int = 200
    neb_optimizer: str = "lbfgs"  # NebOptimizer
    n_images: int = 5
    climb: bool = True
    # the band of a hop between equivalent sites runs the model on its first half and its centre
    # and takes the rest from the mirror, in 3 of 5 image calls, where the model holds to the
    # operation (checked on every band: workflows.engine.MIRROR_CHECK_FORCE)
    neb_mirror: bool = True
    threads: int | None = None  # torch threads per process (default: 1 when several processes run, else torch's)
    # SevenNet through torch.compile: 1.6x per call, ~40 s of compiling per process, each process's
    # first call checked against the eager model (workflows.calculators.COMPILE_TOLERANCE)
    compile: bool = True
    # worker processes for independent jobs (relaxations, bands, statics); None: one per core, at
    # most 2 (on 2 cores two 1-thread processes beat one 2-thread process: benchmarks/RESULTS.md)
    processes: int | None = None


@dataclass
class VaspSettings:
    """VASP through atomate2: Materials-Project-compatible GGA+U sets."""

    n_images: int = 5
    user_incar_settings: dict = field(default_factory=dict)
    nedos: int = 3001  # fine DOS grid for the O 2p band centre
    cores_per_job: int = 128  # for the core-hour estimate of a dry run
    potcar_functional: str = "PBE_54"
    # worker processes that interpolate the bands and write the inputs of a dry run (None: one per core)
    processes: int | None = None


@dataclass
class MockSettings:
    """Mock backend, for plumbing and failure-handling tests.

    ``fail`` and ``blow_up`` list label fragments (job kinds, configuration names or ids): matching
    jobs get a calculator that raises, or one whose forces are far outside any physical range
    (both recorded as failed calculations); jobs matching ``crash`` die themselves, as a killed
    cluster job does, so the workflow engine sees a failed job (FIZZLED in FireWorks).
    """

    fail: list[str] = field(default_factory=list)
    blow_up: list[str] = field(default_factory=list)
    crash: list[str] = field(default_factory=list)  # these jobs raise: the engine sees a dead job
    # 'vasp': run the VASP backend's atomate2 jobs with VASP emulated (workflows/mock_vasp.py):
    # same makers, input files and emmet parsing as on a cluster; energies from the mock
    emulate: str | None = None
    processes: int = 1  # worker processes (see MlipSettings.processes)
    n_images: int = 3
    relax_fmax: float = 0.05
    neb_fmax: float = 0.05
    neb_steps: int = 200


@dataclass
class OxygenConditions:
    """Where E_f(V_O) is evaluated besides the O-rich limit: e.g. synthesis in air at 900 °C is
    ``{temperature: 1173, pressure: 0.21}`` (K, atm); JANAF O2 data, 0–2000 K."""

    temperature: float | None = None
    pressure: float = 1.0


@dataclass
class Limits:
    """What a screen may cost at most: a screen beyond either is refused, with its count and estimate,
    before anything is written, submitted or run (``max_configurations`` instead keeps the first N)."""

    configurations: int | None = None
    core_hours: float | None = None  # the dry run's estimate (workflows/dryrun.py)


@dataclass
class ScreenSpec:
    """Everything a screen needs: host, defects, hops, backend and where results go."""

    name: str
    host: str
    supercell: str | None = None
    min_image_distance: float | None = None
    max_atoms: int = 250
    dopants: list[str] = field(default_factory=list)
    vacancies: list[str] = field(default_factory=list)
    pair_cutoff: float | None = None
    pair_kinds: list[str] = field(default_factory=lambda: ["dopant-vacancy", "dopant-dopant"])
    max_configurations: int | None = None  # keep the first N configurations (the others are named as cut)
    limits: Limits = field(default_factory=Limits)
    hops: HopSelection = field(default_factory=HopSelection)
    backend: Backend = Backend.MLIP
    mlip: MlipSettings = field(default_factory=MlipSettings)
    vasp: VaspSettings = field(default_factory=VaspSettings)
    mock: MockSettings = field(default_factory=MockSettings)
    # DFT statics (DOS, all-electron density → O 2p band centre, Bader) in GPAW beside an ML
    # potential that has no electrons: 'gpaw', or none
    static_backend: str | None = None
    gpaw: GpawSettings = field(default_factory=GpawSettings)
    # the GPAW backend's relaxations and CI-NEB (backend: gpaw): mode, basis, cutoff, k-spacing...
    gpaw_dft: GpawDftSettings = field(default_factory=GpawDftSettings)
    oxygen: OxygenConditions = field(default_factory=OxygenConditions)
    database: str | None = None  # SQLAlchemy URL of the descriptor database
    output: str | None = None  # folder for the job store and results (default: ./lrox-out/<name>)
    base_dir: str = "."  # folder of the YAML file: relative host paths resolve from here

    # --- validation ----------------------------------------------------------------------------
    def validate(self) -> ScreenSpec:
        """Check what can be checked without running anything; returns self."""
        from structures.hosts import BUILTIN_HOSTS, _ALIASES
        from structures.sublattices import parse_dopant, parse_vacancy
        from structures.supercell import parse_supercell

        if not self.name or not str(self.name).replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise LroxInputError(f"spec 'name' must be letters, digits, '-', '_' or '.', got '{self.name}'")
        host_key = self.host.lower()
        from structures.doors.files import exists

        if host_key not in BUILTIN_HOSTS and host_key not in _ALIASES and not exists(self.host_path(), "spec 'host'"):
            raise LroxInputError(f"spec 'host': '{self.host}' is neither a built-in host nor an existing file")
        if self.supercell is not None:
            parse_supercell(self.supercell)
        from structures.safety import MAX_ATOMS, finite

        for key, top in (("min_image_distance", 100.0), ("pair_cutoff", 30.0)):
            value = getattr(self, key)
            if value is not None:
                finite(value, f"spec '{key}'", 0.0, top, strictly_above=True)
        if not 1 <= self.max_atoms <= MAX_ATOMS:
            raise LroxInputError(f"spec 'max_atoms' must be between 1 and {MAX_ATOMS}, got {self.max_atoms}")
        if self.max_configurations is not None and self.max_configurations < 1:
            raise LroxInputError(f"spec 'max_configurations' must be positive, got {self.max_configurations}")
        if self.limits.configurations is not None and self.limits.configurations < 1:
            raise LroxInputError(f"spec 'limits.configurations' must be positive, got {self.limits.configurations}")
        if self.limits.core_hours is not None:
            finite(self.limits.core_hours, "spec 'limits.core_hours'", 0.0, 1e15, strictly_above=True)
        for text in self.dopants:
            parse_dopant(text)
        for text in self.vacancies:
            parse_vacancy(text)
        from structures.configurations import PairKind

        for kind in self.pair_kinds:
            if kind not in {k.value for k in PairKind}:
                raise LroxInputError(f"spec 'pair_kinds': unknown pair kind '{kind}'")
        h = self.hops
        finite(h.cutoff, "spec 'hops.cutoff'", 0.0, 10.0, strictly_above=True)
        finite(h.max_defect_distance, "spec 'hops.max_defect_distance'", 0.0, 100.0)
        if not all(isinstance(t, str) and t.strip("*") for t in h.configurations):
            raise LroxInputError("spec 'hops.configurations': a list of configuration ids, names or name prefixes ending in '*'")
        if not 0 <= h.tsh_per_class <= 100:
            raise LroxInputError(f"spec 'hops.nearest_tsh' must be true, false or a number of hops from 0 to 100, got {h.nearest_tsh}")
        if isinstance(h.beside_vacancy, bool) or not 0 <= h.beside_vacancy <= 20:
            raise LroxInputError(f"spec 'hops.beside_vacancy' must be a number of hops from 0 to 20, got {h.beside_vacancy}")
        if not 0 <= h.per_configuration <= 1000:
            raise LroxInputError(f"spec 'hops.per_configuration' must be between 0 and 1000, got {h.per_configuration}")
        m = self.mlip
        from descriptors.physics.levels import ML_MODELS

        names = m.model if isinstance(m.model, list) else [m.model]
        for name in names:
            if str(name).lower() not in ML_MODELS:
                raise LroxInputError(f"unknown ML model '{name}' (known: {', '.join(ML_MODELS)})")
        if isinstance(m.model, list) and (len(names) < 2 or len({str(n).lower() for n in names}) != len(names)):
            raise LroxInputError("spec 'mlip.model': a committee needs at least two different models")
        if str(m.neb_optimizer).lower() not in {o.value for o in NebOptimizer}:
            raise LroxInputError(f"spec 'mlip': unknown neb_optimizer '{m.neb_optimizer}' (known: {', '.join(o.value for o in NebOptimizer)})")
        if min(m.relax_fmax, m.neb_fmax) <= 0 or min(m.relax_steps, m.neb_steps, m.n_images) < 1:
            raise LroxInputError("spec 'mlip': fmax values must be positive, steps and n_images at least 1")
        if max(m.relax_steps, m.neb_steps) > 100000 or m.n_images > 50 or max(m.relax_fmax, m.neb_fmax) > 10:
            raise LroxInputError("spec 'mlip': steps at most 100000, n_images at most 50, fmax at most 10 eV/Å")
        if m.threads is not None and not 1 <= m.threads <= 1024:
            raise LroxInputError(f"spec 'mlip.threads' must be between 1 and 1024, got {m.threads}")
        for name, value in (("mlip.processes", m.processes), ("mock.processes", self.mock.processes), ("vasp.processes", self.vasp.processes)):
            if value is not None and not 1 <= value <= 256:
                raise LroxInputError(f"spec '{name}' must be between 1 and 256, got {value}")
        for name, value in (("vasp.n_images", self.vasp.n_images), ("mock.n_images", self.mock.n_images)):
            if not 1 <= value <= 50:
                raise LroxInputError(f"spec '{name}' must be between 1 and 50, got {value}")
        if not 1 <= self.vasp.cores_per_job <= 10**6:
            raise LroxInputError(f"spec 'vasp.cores_per_job' must be a positive number of cores, got {self.vasp.cores_per_job}")
        if not 1 <= self.vasp.nedos <= 100000:
            raise LroxInputError(f"spec 'vasp.nedos' must be between 1 and 100000, got {self.vasp.nedos}")
        check_incar(self.vasp.user_incar_settings)
        if self.static_backend not in (None, "gpaw"):
            raise LroxInputError(f"spec 'static_backend': unknown value '{self.static_backend}' (known: gpaw)")
        self.gpaw_dft = GpawDftSettings.from_any(self.gpaw_dft)
        if self.static_backend == "gpaw":
            if self.backend is Backend.GPAW:
                raise LroxInputError("spec: static_backend 'gpaw' is for the mlip and mock backends; the gpaw backend's levels are GPAW already")
            if self.backend is Backend.VASP:
                raise LroxInputError("spec: static_backend 'gpaw' is for the mlip and mock backends; VASP runs its own statics")
            self.gpaw.validate()
        if self.mock.emulate not in (None, "vasp"):
            raise LroxInputError(f"spec 'mock': unknown emulate '{self.mock.emulate}' (known: vasp)")
        if self.mock.emulate == "vasp" and self.static_backend:
            raise LroxInputError("spec: static_backend is for in-process backends; the emulated VASP runs its own statics")
        if min(self.mock.neb_fmax, self.mock.relax_fmax) <= 0 or self.mock.neb_steps < 1:
            raise LroxInputError("spec 'mock': neb_fmax and relax_fmax must be positive and neb_steps at least 1")
        if self.oxygen.temperature is not None:
            from descriptors.physics.vacancy import delta_mu_oxygen

            try:
                delta_mu_oxygen(self.oxygen.temperature, self.oxygen.pressure)
            except ValueError as exc:
                raise LroxInputError(f"spec 'oxygen': {exc}") from None
        return self

    def oxygen_conditions(self) -> dict | None:
        """The spec's (T, pO2), or None for O-rich only."""
        if self.oxygen.temperature is None:
            return None
        return {"temperature": self.oxygen.temperature, "pressure": self.oxygen.pressure}

    def host_path(self) -> Path:
        path = Path(self.host)
        return path if path.is_absolute() else Path(self.base_dir) / path

    def resolved_host(self) -> str:
        from structures.hosts import BUILTIN_HOSTS, _ALIASES

        key = self.host.lower()
        return self.host if key in BUILTIN_HOSTS or key in _ALIASES else str(self.host_path())

    def output_dir(self) -> Path:
        return Path(self.output) if self.output else Path("lrox-out") / self.name

    @property
    def emulates_vasp(self) -> bool:
        """The mock backend running atomate2's VASP jobs against the VASP emulator."""
        return self.backend is Backend.MOCK and self.mock.emulate == "vasp"

    def processes(self) -> int:
        """Worker processes for the screen's independent jobs (1: jobflow's serial run alone)."""
        if self.backend is Backend.MLIP:
            return self.mlip.processes or max(1, min(2, os.cpu_count() or 1))
        if self.backend is Backend.GPAW:
            return 1  # GPAW uses the cores itself (MPI or threads): one job at a time
        if self.backend is Backend.MOCK and not self.emulates_vasp:
            return self.mock.processes
        return 1

    def writer_processes(self) -> int:
        """Worker processes for a dry run's bands and input files: the backend's ``processes``
        setting, else one per core (the work is numpy and file writing: no threads to share)."""
        from workflows.pool import available_cores

        chosen = {Backend.MLIP: self.mlip.processes, Backend.VASP: self.vasp.processes, Backend.MOCK: None, Backend.GPAW: None}[self.backend]
        return chosen or available_cores()

    def settings_for_backend(self) -> dict:
        """The backend's settings as a plain dict (what provenance records)."""
        if self.emulates_vasp:
            return {**dataclasses.asdict(self.vasp), "emulate": "vasp"}
        if self.backend is Backend.GPAW:
            from workflows.gpaw_calculators import backend_settings

            return backend_settings(self.gpaw_dft)
        chosen = {Backend.MLIP: self.mlip, Backend.VASP: self.vasp, Backend.MOCK: self.mock}[self.backend]
        return dataclasses.asdict(chosen)


# INCAR tags whose value must not be negative
_NON_NEGATIVE_TAGS = {"ENCUT", "ENAUG", "EDIFF", "SIGMA", "NELM", "NELMIN", "NSW", "NEDOS", "NBANDS", "KPAR", "NCORE", "NPAR", "ISPIN", "LMAXMIX", "IMAGES"}


def check_incar(settings: dict) -> None:
    """User INCAR settings: real tag names (no newline can inject a line), values of the tag's type
    (pymatgen's INCAR parameter table), finite numbers, no negative cutoffs or counts."""
    import re

    from pymatgen.io.vasp.inputs import Incar

    from structures.safety import finite

    known = _incar_types()
    for key, value in settings.items():
        tag = str(key)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", tag):
            raise LroxInputError(f"spec 'vasp.user_incar_settings': {tag[:40]!r} is not an INCAR tag name")
        tag = tag.upper()
        if known and tag not in known:
            raise LroxInputError(f"spec 'vasp.user_incar_settings': unknown INCAR tag {tag}")
        expected = (known.get(tag) or {}).get("type")
        if isinstance(value, dict):  # per element, pymatgen's way: {"Mn": 5}
            if not all(isinstance(k, str) and len(k) <= 3 and isinstance(v, int | float) and not isinstance(v, bool) for k, v in value.items()):
                raise LroxInputError(f"spec 'vasp.user_incar_settings.{tag}': a mapping must be element → number")
            value = list(value.values())
        if expected == "list" and isinstance(value, str):
            if not re.fullmatch(r"\s*((\d+\*)?[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*)+", value):
                raise LroxInputError(f"spec 'vasp.user_incar_settings.{tag}' must be numbers (VASP's '2*5.0 0.6' notation or a list), got {value!r}")
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > 100000:
            raise LroxInputError(f"spec 'vasp.user_incar_settings.{tag}': list too long")
        for v in values:
            if isinstance(v, (dict, list)) or v is None:
                raise LroxInputError(f"spec 'vasp.user_incar_settings.{tag}': {v!r} is not an INCAR value")
            if isinstance(v, str) and any(c in v for c in "\n\r\x00!#"):
                raise LroxInputError(f"spec 'vasp.user_incar_settings.{tag}': text values must be one plain line")
            if expected in ("int", "float", "list"):
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise LroxInputError(f"spec 'vasp.user_incar_settings.{tag}' must be {'numbers' if expected == 'list' else 'a number'}, got {v!r}")
                finite(v, f"spec 'vasp.user_incar_settings.{tag}'")
                if expected == "int" and float(v) != int(v):
                    raise LroxInputError(f"spec 'vasp.user_incar_settings.{tag}' must be an integer, got {v!r}")
            if expected == "bool" and not isinstance(v, bool):
                raise LroxInputError(f"spec 'vasp.user_incar_settings.{tag}' must be true or false, got {v!r}")
        if tag in _NON_NEGATIVE_TAGS and any(isinstance(v, int | float) and v < 0 for v in values):
            raise LroxInputError(f"spec 'vasp.user_incar_settings.{tag}' must not be negative, got {value!r}")



def _incar_types() -> dict:
    """pymatgen's table of INCAR tags and their types (empty if it cannot be found)."""
    from structures.doors.data import load_json
    from structures.doors.files import package_text

    try:
        return load_json(package_text("pymatgen.io.vasp", "incar_parameters.json"), "pymatgen's INCAR table")
    except (OSError, ValueError, ModuleNotFoundError):
        return {}


def _coerce(value, annotation, where: str):
    """Convert a YAML value to the annotated type, or raise a one-line error naming ``where``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is typing.Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except LroxInputError as exc:
                errors.append(str(exc))
        raise LroxInputError(errors[0] if errors else f"spec '{where}': bad value {value!r}")
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise LroxInputError(f"spec '{where}' must be a mapping, got {type(value).__name__}")
        return _build(annotation, value, where + ".")
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return annotation(str(value).lower())
        except ValueError:
            allowed = ", ".join(m.value for m in annotation)
            raise LroxInputError(f"spec '{where}': unknown value '{value}' (use {allowed})") from None
    if origin is list:
        if isinstance(value, str | int | float):
            value = [value]
        if not isinstance(value, list):
            raise LroxInputError(f"spec '{where}' must be a list, got {type(value).__name__}")
        return [_coerce(v, args[0] if args else typing.Any, where) for v in value]
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise LroxInputError(f"spec '{where}' must be a mapping, got {type(value).__name__}")
        return dict(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise LroxInputError(f"spec '{where}' must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise LroxInputError(f"spec '{where}' must be an integer, got {value!r}")
        if abs(value) > 10**9:
            raise LroxInputError(f"spec '{where}': {value} is out of any sensible range")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LroxInputError(f"spec '{where}' must be a number, got {value!r}")
        from structures.safety import finite

        return finite(value, f"spec '{where}'")
    if annotation is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise LroxInputError(f"spec '{where}' must be text, got {value!r}")
        if len(str(value)) > 4096 or any(c in str(value) for c in "\n\r\x00"):
            raise LroxInputError(f"spec '{where}' must be one line of text")
        return str(value)
    return value


def _build(cls, data: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names - {"base_dir"})
    if unknown:
        raise LroxInputError(f"unknown key '{prefix}{unknown[0]}' in spec (known: {', '.join(sorted(names - {'base_dir'}))})")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _coerce(data[f.name], hints[f.name], prefix + f.name)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise LroxInputError(f"spec is missing the required key '{prefix}{f.name}'")
    return cls(**kwargs)


def spec_from_dict(data: dict, base_dir: str | Path = ".") -> ScreenSpec:
    if not isinstance(data, dict):
        raise LroxInputError("a screen spec must be a YAML mapping of keys to values")
    spec = _build(ScreenSpec, data)
    spec.base_dir = str(base_dir)
    return spec.validate()


def load_spec(path: str | Path, backend: str | None = None, echo=None) -> ScreenSpec:
    """Read and validate a YAML screen spec; ``backend`` overrides the spec's backend.

    When ``--backend vasp`` overrides a spec with GPAW statics, VASP's own statics replace them;
    ``--backend mock`` (plumbing) leaves them out (``echo`` says so in one line).
    """
    from structures.doors.data import load_yaml
    from structures.doors.files import MAX_SPEC_BYTES, read_file_text
    from structures.doors.text import shown

    path = Path(path)
    data = load_yaml(read_file_text(path, "spec", MAX_SPEC_BYTES), f"spec '{shown(path)}'")
    if backend is not None:
        if not isinstance(data, dict):
            raise LroxInputError("a screen spec must be a YAML mapping of keys to values")
        data = {**data, "backend": backend}
        if backend in (Backend.VASP.value, Backend.MOCK.value, Backend.GPAW.value) and data.get("static_backend"):
            data = {k: v for k, v in data.items() if k not in ("static_backend", "gpaw")}
            if echo is not None:
                echo({
                    Backend.VASP.value: "note: --backend vasp: VASP's own statics (DOS, charge density, Bader) replace the spec's GPAW statics",
                    Backend.MOCK.value: "note: --backend mock: plumbing only, so the spec's GPAW statics are left out",
                    Backend.GPAW.value: "note: --backend gpaw: relaxations and bands in GPAW; the spec's GPAW statics (on ML geometries) are left out",
                }[backend])
    return spec_from_dict(data, base_dir=path.parent)
