"""`records-import`: stream a large CSV or NDJSON export to the bulk API, resumably."""
