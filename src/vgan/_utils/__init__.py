"""Private plumbing: errors and their one-line messages, value checks, atomic writes, image grids,
and the description of the machine. Nothing here knows about energies, runs or configs."""
