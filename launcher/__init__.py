"""The launcher: from a VAMS pipeline event (or an asset in S3) to a SageMaker training job.

Modules (imported directly; this package imports nothing so that ``gr00t-sm --help`` stays instant):

* :mod:`launcher.settings` - deployment settings (``GR00T_*`` environment variables or ``--settings`` JSON)
* :mod:`launcher.vams` - the VAMS event as Powertools parser models; asset location and run origin
* :mod:`launcher.request` - the pure CreateTrainingJob request builder, job names, relaunch requests
* :mod:`launcher.limits` - the request checked against SageMaker's service model and rules
* :mod:`launcher.policy` - what a per-asset config may ask for under the deployment's caps
* :mod:`launcher.service` - launch / stop for one event (the launch and stop Lambdas, ``gr00t-sm launch``)
* :mod:`launcher.completion` - job state changes -> Step Functions callbacks (the job-events Lambda)
* :mod:`launcher.clients` - lazily created boto3 clients
"""
