"""``make bench``: measured figures of the bundled systems next to the floor, printed as a table and
merged into ``reports/bench.json``."""
