"""Using the archive (开发利用): contribution histories, retirement horizon, site aggregates and warning lines.

Domain core, no Prefect: ``retirement`` (the 2025 reform's tables), ``history`` (a person's month-by-month
contribution history merged from every document in the catalog), ``site`` (aggregates over a site's or a
region's catalogs, computed by DuckDB over Arrow tables) and ``charts`` (PNG/SVG, CSV/XLSX).
"""
