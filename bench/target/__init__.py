"""Target control: resources, the drivers that serve them, and the protocols tests ask for."""
