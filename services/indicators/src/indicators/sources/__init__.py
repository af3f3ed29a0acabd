"""Where the numbers come from: learning-records and the catalog, behind small interfaces."""
