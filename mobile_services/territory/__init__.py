"""Territory data: communes, sites, vehicles, counsellors and services, validated.

- :mod:`records`: pydantic rows and the :class:`~records.TerritoryData` bundle;
- :mod:`formats`: geo.api.gouv.fr JSON and the CSV files of FORMATS.md, read and written;
- :mod:`store`: ``import_territory_data``, all or nothing, upserts; default sites (``ensure_default_sites``);
- :mod:`fetch`: ``fetch_departement`` from geo.api.gouv.fr;
- :mod:`generator`: ``generate_territory``, seeded synthetic rural territories;
- :mod:`catalogue`: the default service catalogue and ``seed_catalogue``.

Nothing here touches a database or the network at import time.
"""
