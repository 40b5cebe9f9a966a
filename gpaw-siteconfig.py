# GPAW build configuration (pip reads it through GPAW_CONFIG; the Makefile sets that).
# GPAW 26 compiles its C sources as C++: with gcc the build fails on '<algorithm>'.
# Serial build (mpi = False): lrox runs one small static at a time. Needs Debian's
# libxc-dev libopenblas-dev libfftw3-dev.
compiler = 'g++'
mpi = False
fftw = True
scalapack = False
libraries = ['xc', 'openblas', 'fftw3']
