"""lrox.workflows: jobflow flows (relax, static, Bader, CI-NEB) on VASP, ML-potential, GPAW and mock backends.

Builds and runs the jobs that call :mod:`descriptors.physics`; hands a local run's results to the
descriptor database through :func:`descriptors.ingest.store_result`.
"""
