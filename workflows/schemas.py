"""Typed output documents of the screen's jobs; the descriptor module consumes these."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field, field_validator
from pymatgen.core import Structure


class CalcStatus(str, Enum):
    SUCCESS = "success"
    FAILED = "failed"  # ran (or should have) and produced no trustworthy number: reason says why
    NOT_AVAILABLE = "not_available"  # this level of theory has no such quantity (e.g. a DOS from an ML potential)


class Provenance(BaseModel):
    backend: str
    level_of_theory: str
    settings_hash: str
    settings: dict
    code_versions: dict[str, str] = Field(default_factory=dict)
    # what the energies include, for the O2 reference (workflows.calculators.O2Correction)
    o2_correction: str | None = None


class CalcDoc(BaseModel):
    """Common part of every calculation document."""

    kind: str  # relax | static | bader | neb | reference
    label: str
    configuration_id: str | None = None
    hop_id: str | None = None
    status: CalcStatus
    reason: str | None = None
    provenance: Provenance
    wall_time: float | None = None


class RelaxDoc(CalcDoc):
    kind: str = "relax"
    energy: float | None = None  # eV, whole cell
    n_atoms: int | None = None
    structure: Structure | None = None
    converged: bool | None = None
    n_steps: int | None = None
    max_force: float | None = None  # eV/Å at the end


class StaticDoc(CalcDoc):
    kind: str = "static"
    energy: float | None = None
    dos: dict | None = None  # pymatgen CompleteDos.as_dict()
    efermi: float | None = None
    charge_density_file: str | None = None
    # Kohn–Sham eigenvalues (eV) and occupations (0..1), [spin][k-point][band]: the band edges
    eigenvalues: list | None = None
    occupations: list | None = None
    # the cell the static ran on; and where it is not the screen's (a GPAW static in a smaller
    # cell, gpaw.supercell), the summary of the same defects rebuilt there: site indices and
    # fractional coordinates of the charges and the DOS refer to this cell, not the screen's
    structure: Structure | None = None
    cell_configuration: dict | None = None

    @field_validator("dos", mode="before")
    @classmethod
    def _dos_as_dict(cls, value):
        # jobflow's stores decode the serialised DOS back into a CompleteDos: keep the dict form
        return value.as_dict() if hasattr(value, "as_dict") else value


class BaderDoc(CalcDoc):
    kind: str = "bader"
    charges: list[float] | None = None  # net charge per site
    site_labels: list[str] | None = None


class NebDoc(CalcDoc):
    kind: str = "neb"
    hop: dict | None = None  # LiHop.summary()
    energies: list[float] | None = None  # eV per image, end points included
    images: list[Structure] | None = None  # end points included
    converged: bool | None = None
    n_steps: int | None = None
    force_calls: int | None = None
    endpoint_steps: list[int] | None = None
    route: str | None = None  # the band whose profile this is: "edge" (IDPP) or "tetrahedral"
    endpoint_time: float | None = None  # s of wall_time spent relaxing the two end points
    routes: list[dict] | None = None  # every band run for the hop, with its profile and mechanism (a skipped one: why)
    # a twin hop (the same physical hop as another of the screen: LiHop.twin_key) is computed once:
    # this document is then that band's, carried onto this hop, and this says which band ran
    # (configuration_id, hop_id, label) and by which operation it maps here (workflows.jobs.twin_document)
    computed_as: dict | None = None
    # a band seeded from a converged band of the same hop at another level (ML): which level, hop and
    # configuration, and how it was mapped onto this level's end points (structures.hops.seeded_band)
    seeded_from: dict | None = None
    start_band: dict | None = None  # the band the optimizer started from (descriptors.records.bands.compact_band)
    magnetic_moments: list[float | None] | None = None  # total moment (μB) per image at the end (GPAW)
    scf_iterations: list[list[int]] | None = None  # GPAW: per image calculator, the iterations of each SCF
    cell: dict | None = None  # lrox check: the cell the hop was rebuilt in (dims, atoms, its configuration)


class ReferenceDoc(CalcDoc):
    kind: str = "reference"
    species: str  # "O2" or "Li"
    energy_per_atom: float | None = None


class ScreenResult(BaseModel):
    """What the collector hands to the descriptor module: every document, failed ones included."""

    screen: str
    host: str
    supercell: list[int]
    min_image_distance: float | None = None  # Å, the closest a defect comes to its own periodic image
    backend: str
    level_of_theory: str
    settings_hash: str
    configurations: list[dict]  # Configuration.summary() per configuration
    documents: list[dict]  # CalcDoc dumps; a job that produced nothing appears as a failed document
    n_failed: int
    oxygen: dict | None = None  # the spec's (T, pO2) for E_f(V_O) beside the O-rich value
    provenance: dict | None = None  # the screen's: backend, level, settings (a committee's members)


def output_field(job, name: str):
    """``job.output.<name>``, the reference a job passes to another, with its output schema
    consulted once per (schema, field) rather than at every access.

    jobflow checks an attribute of a reference against the job's output schema by generating the
    schema's JSON schema each time (``validate_schema_access``): for atomate2's ``TaskDoc`` about
    0.1 s, at every ``relax.output.structure`` of a screen's Flow. The reference made here is the
    one jobflow makes.
    """
    from jobflow.core.reference import OutputReference

    return OutputReference(job.uuid, (("a", name),), output_schema=_field_schema(job.output_schema, name))



def _field_schema(schema, name: str):
    """The sub-schema of ``schema.name`` (None for a field that is no model), as jobflow finds it."""
    if schema is None:
        return None
    key = (schema, name)
    if key not in _FIELD_SCHEMAS:
        from jobflow.core.reference import validate_schema_access

        _FIELD_SCHEMAS[key] = validate_schema_access(schema, name)[1]  # raises AttributeError for a field it lacks
    return _FIELD_SCHEMAS[key]


_FIELD_SCHEMAS: dict = {}
