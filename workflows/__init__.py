"""lrox.workflows: jobflow flows (relax, static, Bader, CI-NEB) on VASP, ML-potential and mock backends.

Not built yet: this package is the home of the workflows issue. It exists now
so the package layout the design asks for installs from the first commit.
"""
