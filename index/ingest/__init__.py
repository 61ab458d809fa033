"""Reading sources into articles and preparing them for the store: readers, limits, dates, chunking, dedup."""
