"""Readers: each source of results read into the normalized result (:mod:`descriptors.records.result`).

One reader per source: ``results`` (a local run's results.json, a JSON dump of a job store),
``jobstore`` (a jobflow JobStore: the cluster workers' outputs), ``vasp`` (VASP run folders, and the
run folders a VASP screen's documents name).
"""
