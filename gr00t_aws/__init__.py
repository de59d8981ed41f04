"""gr00t_aws."""
