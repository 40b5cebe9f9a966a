"""The descriptor database's tables (SQLAlchemy 2 declarative models): what a row of each holds.

* ``configurations``: one row per configuration id (content-derived, so the same structure is the
  same row whichever screen computed it).
* ``calculations``: one row per calculation (relax, static, Bader, NEB, reference) with its backend,
  level of theory, settings hash, settings, code versions, status and error message; the id is a
  hash of what the calculation is, so re-ingesting the same result is the same row.
* ``descriptors``: one row per configuration × descriptor × subject × level of theory × settings
  (``subject`` is the hop id of a barrier, empty for per-configuration descriptors; the settings
  hash covers every parameter that changes a number, so a k-spacing of 1.0 never overwrites one of
  0.5), with the value, its unit, a status (ok / flagged / failed / unavailable), flags and details.
* ``hops``: one row per hop calculation, a column per field a question about Li hops filters on.
* ``configuration_levels``: the configuration view, one row per configuration × level of theory ×
  settings with a column per quantity ``lrox query`` shows (:mod:`descriptors.records.view` makes
  the rows), written in the same transaction as the descriptors it comes from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Table, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from structures.doors.databases import column_types, json_type

# SQLAlchemy's types (the same DDL), each value read back checked by the database door: a damaged
# database (text in a number column, JSON that does not parse) is one error, never a wrong number
_TYPES = column_types()
JSON, Boolean, DateTime, Float, Integer, String, Text = (_TYPES[k] for k in ("JSON", "Boolean", "DateTime", "Float", "Integer", "String", "Text"))
JSONNumberText = _TYPES["JSONNumberText"]  # a number read by a JSON path inside a document (descriptors.store.reads)

JSONObject, JSONFlags = json_type({}, "JSON object"), json_type(["text"], "list of flags")

from descriptors.records.schema import COUNT_FIELDS, DATA_SHAPE, DETAILS_SHAPE, LEVEL_FIELDS, MU_SHAPE, SUMMARY_SHAPE

__all__ = ["JSONNumberText", "SCHEMA_VERSION", "READABLE_VERSIONS", "VIEW_SINCE", "TWINS_SINCE", "Base", "ConfigurationRow", "CalculationRow", "DescriptorRow", "HopRow", "ConfigurationLevelRow", "HopTwinRow", "MetaRow"]

# 2: settings in the descriptor key, charge bookkeeping, O2 correction scheme
# 3: the configuration view (configuration_levels), kept in step on every write. A lrox that writes
#    version 2 would add descriptors without their view rows: it refuses a version 3 database. A
#    version 2 database is read as it is and upgraded (the view made from its rows) on its first write.
# 4: the hop rows' twin groups (hop_twins), kept in step on every write that adds hops: a reader no
#    longer groups every hop of the database at each read. A lrox of version 3 refuses it; a version
#    2 or 3 database is read as it is (the groups found at read time, as before) and upgraded on its
#    first write.
SCHEMA_VERSION = 4
READABLE_VERSIONS = ("2", "3", "4")
VIEW_SINCE, TWINS_SINCE = 3, 4  # the first versions that keep the configuration view and the twin groups


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSONObject, list: JSONFlags, str: String, int: Integer, float: Float, bool: Boolean, datetime: DateTime}


class ConfigurationRow(Base):
    __tablename__ = "configurations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(64), index=True)
    supercell: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    formula: Mapped[str] = mapped_column(String(128))
    n_atoms: Mapped[int] = mapped_column(Integer)
    defect: Mapped[str] = mapped_column(String(64), index=True)  # pristine | dopant | vacancy | dopant+vacancy | ...
    dopant: Mapped[str | None] = mapped_column(String(64), index=True)  # species, comma-separated
    site: Mapped[str | None] = mapped_column(Text)  # host site labels of the defects
    pair_distance: Mapped[float | None] = mapped_column(Float)
    charge_change: Mapped[float | None] = mapped_column(Float)  # Σ formal charge change of the defects
    compensation: Mapped[str | None] = mapped_column(Text)  # which ions take the carriers
    multiplicity: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[dict] = mapped_column(json_type(SUMMARY_SHAPE, "configuration's summary"))


class CalculationRow(Base):
    __tablename__ = "calculations"
    # the levels and when each was first ingested (descriptors.query.levels) read from this index
    # alone, not from the rows (each holds its NEB profile and structures): made on any database a
    # writer opens (DescriptorDatabase), so an older one has it after its next write
    __table_args__ = (Index("ix_calculations_level_first_ingested", "level_of_theory", "settings_hash", "ingested_at", "backend"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    configuration_id: Mapped[str | None] = mapped_column(ForeignKey("configurations.id"), index=True)
    screen: Mapped[str | None] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # relax | static | bader | neb | reference
    label: Mapped[str] = mapped_column(Text)
    hop_id: Mapped[str | None] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(32), index=True)
    level_of_theory: Mapped[str] = mapped_column(String(128), index=True)
    settings_hash: Mapped[str] = mapped_column(String(64), index=True)
    settings: Mapped[dict] = mapped_column(JSONObject)
    code_versions: Mapped[dict] = mapped_column(JSONObject)
    o2_correction: Mapped[str | None] = mapped_column(String(16))  # what the energies include (O2Correction)
    status: Mapped[str] = mapped_column(String(16), index=True)  # success | failed | not_available
    error: Mapped[str | None] = mapped_column(Text)
    wall_time: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(Text)  # where it was ingested from
    data: Mapped[dict] = mapped_column(json_type(DATA_SHAPE, "calculation's data"))  # energies, NEB profile, structure, ...
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DescriptorRow(Base):
    __tablename__ = "descriptors"
    __table_args__ = (
        UniqueConstraint("configuration_id", "name", "subject", "level_of_theory", "settings_hash", name="uq_descriptor"),
        # the descriptors of each level counted from this index alone (lrox query levels, the report's levels)
        Index("ix_descriptors_level_settings", "level_of_theory", "settings_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    configuration_id: Mapped[str] = mapped_column(ForeignKey("configurations.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(64), default="")
    level_of_theory: Mapped[str] = mapped_column(String(128), index=True)
    backend: Mapped[str] = mapped_column(String(32))
    settings_hash: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16), default="")
    status: Mapped[str] = mapped_column(String(16))  # ok | flagged | failed | unavailable
    flags: Mapped[list] = mapped_column(JSONFlags)
    details: Mapped[dict] = mapped_column(json_type(DETAILS_SHAPE, "descriptor's details"))
    calculation_id: Mapped[str | None] = mapped_column(ForeignKey("calculations.id"))


class HopRow(Base):
    """One row per hop calculation (configuration × hop × level × settings): see descriptors.records.hops."""

    __tablename__ = "hops"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    calculation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    configuration_id: Mapped[str] = mapped_column(ForeignKey("configurations.id"), index=True)
    configuration: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(64), index=True)
    defect: Mapped[str | None] = mapped_column(String(64), index=True)
    dopant: Mapped[str | None] = mapped_column(String(64), index=True)
    hop_id: Mapped[str] = mapped_column(String(96), index=True)
    start: Mapped[str | None] = mapped_column(Text)
    end: Mapped[str | None] = mapped_column(Text)
    length: Mapped[float | None] = mapped_column(Float)
    layers: Mapped[str | None] = mapped_column(String(64))
    mechanism: Mapped[str | None] = mapped_column(String(16), index=True)
    mechanism_expected: Mapped[str | None] = mapped_column(String(16))
    mechanism_observed: Mapped[str | None] = mapped_column(String(16))
    n_tm: Mapped[int | None] = mapped_column(Integer, index=True)
    ts_cations: Mapped[str | None] = mapped_column(Text)
    ts_cation_charge: Mapped[float | None] = mapped_column(Float)
    distance_to_defect: Mapped[float | None] = mapped_column(Float)
    nearest_defect: Mapped[str | None] = mapped_column(Text)
    closest_to_vacant_o: Mapped[float | None] = mapped_column(Float)
    closest_to_tetrahedron: Mapped[float | None] = mapped_column(Float)
    tetrahedron_inradius: Mapped[float | None] = mapped_column(Float)
    closest_to_edge_midpoint: Mapped[float | None] = mapped_column(Float)
    saddle_image: Mapped[int | None] = mapped_column(Integer)
    intermediate_minimum: Mapped[float | None] = mapped_column(Float)
    minimum_at_tetrahedral_site: Mapped[bool | None] = mapped_column()
    forward: Mapped[float | None] = mapped_column(Float)
    reverse: Mapped[float | None] = mapped_column(Float)
    barrier: Mapped[float | None] = mapped_column(Float, index=True)
    stable_end: Mapped[str | None] = mapped_column(String(16))
    e_kra: Mapped[float | None] = mapped_column(Float, index=True)
    e_kra_second_saddle: Mapped[float | None] = mapped_column(Float)
    delta_e_a: Mapped[float | None] = mapped_column(Float)
    reference_configuration_id: Mapped[str | None] = mapped_column(String(64))
    reference_mechanism: Mapped[str | None] = mapped_column(String(16))
    delta_e_a_comparison: Mapped[str | None] = mapped_column(Text)
    delta_e_a_flags: Mapped[str | None] = mapped_column(Text)
    barrier_spread: Mapped[float | None] = mapped_column(Float)
    expected_error: Mapped[float | None] = mapped_column(Float)
    route: Mapped[str | None] = mapped_column(String(16))
    converged: Mapped[bool | None] = mapped_column()
    status: Mapped[str | None] = mapped_column(String(16), index=True)
    flags: Mapped[str | None] = mapped_column(Text)
    level_of_theory: Mapped[str] = mapped_column(String(128), index=True)
    settings_hash: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str | None] = mapped_column(String(32))
    n_atoms: Mapped[int | None] = mapped_column(Integer)
    twin_key: Mapped[str | None] = mapped_column(Text)
    shares_band_with: Mapped[str | None] = mapped_column(Text)
    saddle_energy: Mapped[float | None] = mapped_column(Float)
    second_saddle_energy: Mapped[float | None] = mapped_column(Float)
    initial_energy: Mapped[float | None] = mapped_column(Float)
    final_energy: Mapped[float | None] = mapped_column(Float)


class ConfigurationLevelRow(Base):
    """The configuration view at one level: see descriptors.records.view (a column per LEVEL_FIELD)."""

    __table__ = Table(
        "configuration_levels",
        Base.metadata,
        Column("configuration_id", String(64), ForeignKey("configurations.id"), primary_key=True),
        Column("level_of_theory", String(128), primary_key=True),
        Column("settings_hash", String(64), primary_key=True),
        Column("backend", String(32)),
        Column("first_descriptor", Integer),  # the view's row order: as its descriptors were first written
        Column("e_vac_o_mu", json_type(MU_SHAPE, "chemical potential")),  # the μ_O of e_vac_o, for --oxygen
        *(Column(name, Integer if name in COUNT_FIELDS else Float) for name in LEVEL_FIELDS),
    )


class HopTwinRow(Base):
    """A hop row's twin group (descriptors.records.twins.TwinInfo.as_row), by the hop row's id."""

    __tablename__ = "hop_twins"

    id: Mapped[str] = mapped_column(ForeignKey("hops.id"), primary_key=True)
    twin_group: Mapped[str] = mapped_column(String(96))  # the representative's hop id
    n_twins: Mapped[int] = mapped_column(Integer)
    twin_basis: Mapped[str] = mapped_column(Text)
    dependent_on: Mapped[str | None] = mapped_column(Text)  # comma-separated twin groups


class MetaRow(Base):
    __tablename__ = "lrox_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
