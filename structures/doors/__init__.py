"""The doors: the only ways lrox reads a file, a number, a structure, a database or another tool's
configuration, and the one way its text goes out. ``tests/test_doors.py`` reads the code of every
package and fails if anything outside this package opens a file for reading, parses JSON or YAML,
decodes a class a file names, reads a structure or a VASP file, or opens a database.

========================  =============================================================================
door                      guarantees
========================  =============================================================================
:mod:`.files`             regular files only (judged on the opened file: never blocks on a FIFO or
                          device), names that fit the filesystem, permissions named, size limits,
                          compressed files unpacked while streaming and refused past a bound, UTF-8
                          text or an error naming the offset; outputs: regular files in writable
                          folders, written atomically
:mod:`.data`              JSON and YAML as plain data, nesting bounded, YAML anchors and aliases
                          refused before anything expands; classes decoded only from an allow-list
:mod:`.numbers`           finite numbers within physical bounds, or a refusal (typed input) or a reason
                          (a calculation's numbers: stored as failed)
:mod:`.structures_in`     one loader for every structure format: no class named by a file, no YAML
                          alias, sites capped before symmetry expansion, every number and species
                          checked before pymatgen builds anything
:mod:`.vasp`              VASP's files through the file door first (no FIFO OUTCAR, no gzip bomb)
:mod:`.databases`         one opener for reading (SQLite read-only URI, ``immutable`` where no writer
                          can be, correct escaping, no side files, no WAL switch), one for writing
                          (the WAL switch only there; a new file removed if its first write fails);
                          a foreign database refused by its tables and columns
:mod:`.tools`             LaunchPad, job store and jobflow-remote project files: objects built by lrox
                          from an allow-list of keys and store types; no file chooses a class, a
                          file to write or a log folder
:mod:`.text`              credentials redacted in linear time, control and escape characters made
                          visible before anything is echoed
========================  =============================================================================
"""
