"""Running figures (tallies) kept beside the records they count, so reports need no scan."""
