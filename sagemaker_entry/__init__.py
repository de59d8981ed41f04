"""sagemaker_entry."""
