"""Reference tables shipped with the package (country-code crosswalk)."""
