"""Chapter recipes: the experiments each notebook runs, with their sizes per profile."""
