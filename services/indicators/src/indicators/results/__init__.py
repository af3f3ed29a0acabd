"""Results served over HTTP: cached, recomputed when the records move, exportable as CSV."""
