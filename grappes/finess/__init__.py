"""The FINESS referential's import: parser and ORM writer (``importer``), PostgreSQL COPY writer
(``postgres``), admin upload jobs run by Celery (``jobs``, ``admin``)."""
