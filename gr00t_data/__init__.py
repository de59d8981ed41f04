"""gr00t_data."""
