"""Pure physics over structures, energies, DOS and densities; and what each level of theory's energies include (``levels``)."""
