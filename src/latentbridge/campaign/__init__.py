"""The campaign kernel: what ``latentbridge bench`` and ``latentbridge augment`` both stand on.

A *campaign* is many independent units of work (a bench run, an augmentation set, a classifier fold), each
seeded from the campaign's seed and its own identity, run by an executor and stored by the parent process
alone, one SQLite transaction per finished unit, then rendered into reports. One module per job:

- :mod:`~latentbridge.campaign.executors` — run picklable tasks serially, in a spawn process pool or on Dask
  (a local cluster or a running scheduler), in completion order, abandoning the units in flight on Ctrl-C;
- :mod:`~latentbridge.campaign.seeds` — a unit's seed from the campaign seed and the unit's coordinates,
  independent of execution order, executor and process;
- :mod:`~latentbridge.campaign.store` — SQLite basics (WAL writer, read-only reader, schema, JSON meta),
  the one ``.npy`` blob codec (no pickle, header checked against the bytes) and the library versions a
  store records;
- :mod:`~latentbridge.campaign.render` — numbers, p-values, slugs and escaped Markdown, HTML and CSV cells.

Statistics live in :mod:`latentbridge.stats`; the DCGAN training pieces in :mod:`latentbridge.models.dcgan`.
"""
