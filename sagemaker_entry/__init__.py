"""The SageMaker training container's entry: ``python -m sagemaker_entry [--print-command]``.

Modules: contract (the /opt/ml and SM_* contract), dataset, model_cache, engines (command lines), runner (the
trainer process), checkpoints, outputs (uploads while training), reports, failure, main (wiring).
"""
