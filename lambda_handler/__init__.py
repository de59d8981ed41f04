"""lambda_handler."""
