"""SQLite storage: the database, its migrations, and the queries (the only place with SQL)."""
