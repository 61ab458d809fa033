"""The archive: ingest, chunk, embed, store and search news articles. Never imports `bot`."""
