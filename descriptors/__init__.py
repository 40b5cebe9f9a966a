"""lrox.descriptors: the physics of the descriptors, their records, database, queries and report.

Layers, each importing only those before it: ``physics`` (pure functions: barriers, mechanism,
vacancy energies, band centres, Bader, geometry, the levels-of-theory registry) ← ``records`` (one
reader per source into one normalized result, one extractor into rows) ← ``store`` (the database)
← ``ingest`` ← ``query`` ← ``report``. Nothing here launches a job or imports ``workflows``.
"""
