"""The launcher: from a VAMS pipeline event (or an asset in S3) to a SageMaker training job.

Two parts, in two layers (the contracts in ``.importlinter`` keep them apart; see docs/architecture.md):

* :mod:`launcher.orchestration` - the application logic the Lambda functions run (launch, stop, job events and the
  sweep, request building, policy, deployment settings, the VAMS event). Imports only gr00t_core and the adapters.
* :mod:`launcher.cli` and :mod:`launcher.commands` - the ``gr00t-sm`` command line, an entry point on top of it.

This package imports nothing so that ``gr00t-sm --help`` stays instant.
"""
