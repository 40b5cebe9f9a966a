"""Records: results read into one normalized shape (``readers``, ``result``), and turned into database rows
by one extractor (``extractor``, with the row builders ``rows``, ``vacancies``, ``barrier_rows``,
``electronic_rows``, ``committee``, ``hops``). Pure: no database here."""
