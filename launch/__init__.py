"""lrox.launch: the ``lrox`` command line, a thin layer over the library packages."""
