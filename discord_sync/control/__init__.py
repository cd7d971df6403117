"""Operating syncs on the Dagster instance: launch, find and cancel tenant runs."""
