"""One tenant's sync: planning, the parallel channel windows, the catalog."""
