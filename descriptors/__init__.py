"""lrox.descriptors: barriers, O 2p band centre, vacancy energies, Bader charges, geometry, and their database.

Not built yet: this package is the home of the descriptors issue. It exists now
so the package layout the design asks for installs from the first commit.
"""
