"""Code generators in the loop: `[[generate]]` steps, what triggers them, running one, what it wrote."""
