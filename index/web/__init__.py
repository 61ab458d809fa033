"""The network side: guarded fetching, URLs, feeds and the feed watcher."""
