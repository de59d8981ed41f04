"""Pure core of the GR00T-on-SageMaker pipeline.

Nothing in this package imports boto3, torch, pyarrow or any other heavy dependency: the Lambda side,
the CLI and the training container all share it, and it must stay cheap to import.
"""
