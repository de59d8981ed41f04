"""Application logic behind the Lambda functions and ``gr00t-sm launch`` (imported directly, module by module).

* :mod:`launcher.orchestration.settings` - deployment settings (``GR00T_*`` environment variables or ``--settings``)
* :mod:`launcher.orchestration.vams` - the VAMS event as Powertools parser models; asset location and run origin
* :mod:`launcher.orchestration.request` - the pure CreateTrainingJob request builder, job names, relaunch requests
* :mod:`launcher.orchestration.limits` - the request checked against SageMaker's service model and rules
* :mod:`launcher.orchestration.policy` - what a per-asset config may ask for under the deployment's caps
* :mod:`launcher.orchestration.service` - launch / stop for one event (launch and stop Lambdas, ``gr00t-sm launch``)
* :mod:`launcher.orchestration.completion` - job state changes -> Step Functions callbacks (job-events Lambda)
* :mod:`launcher.orchestration.sweep` - the scheduled sweep of jobs holding a task token (job-events Lambda)

It imports gr00t_core and the adapters (gr00t_aws, gr00t_data) only: never the CLI, local mode or a handler.
boto3 clients come in through :class:`gr00t_aws.clients.AwsClients`.
"""
