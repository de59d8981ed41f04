#!/usr/bin/env bash
# GPU smoke test: one N1.5 and one N1.6 fine-tune of a few steps, each in its own training image, with the argv
# this project builds (python -m sagemaker_entry --print-command) run as is, then the open-loop evaluation that
# sagemaker_entry/evaluation.py runs after training. Reports the exit codes, checkpoints and MSE it saw.
#
#   IMAGE_N15=gr00t:n1.5 IMAGE_N16=gr00t:n1.6 MODELS=/data/models scripts/gpu_smoke.sh [STEPS]
#
# MODELS holds the base models as the model cache stores them (folders nvidia--GR00T-N1.5-3B--main and
# nvidia--GR00T-N1.6-3B--main, see sagemaker_entry/model_cache.cache_key): the run needs no network and no S3.
# Needs docker with the NVIDIA runtime (--gpus all). Cannot run on a machine without GPUs.
set -euo pipefail

STEPS="${1:-5}"
: "${IMAGE_N15:?set IMAGE_N15 to the N1.5 training image}"
: "${IMAGE_N16:?set IMAGE_N16 to the N1.6 training image}"
: "${MODELS:?set MODELS to a folder holding the base models (model cache layout)}"
WORK="$(mktemp -d)"
trap 'echo "work folder kept: $WORK"' EXIT
status=0

smoke() {
    local label="$1" image="$2" base="$3"
    local base_dir="$WORK/$label"
    mkdir -p "$base_dir/input/config" "$base_dir/input/data/dataset" "$base_dir/checkpoints" "$base_dir/work"
    # A small so100_dualcam dataset (gr00t_data.synthetic, inside the image so no host Python is needed).
    docker run --rm -v "$base_dir:/opt/ml" --entrypoint /opt/venv/bin/python "$image" \
        -m gr00t_data.synthetic /opt/ml/input/data/dataset/dataset --layout so100_dualcam --episodes 3 --frames 64
    cat > "$base_dir/input/config/hyperparameters.json" <<JSON
{"baseModelPath": "$base", "engine": "isaac-gr00t", "maxSteps": "$STEPS", "saveSteps": "$STEPS", "batchSize": "2",
 "numGpus": "1", "evalEpisodes": "1", "dataloaderNumWorkers": "2", "videoBackend": "torchcodec",
 "outputS3AssetFilesPath": "s3://smoke-not-used/files/", "outputFolderName": "smoke"}
JSON
    echo '{"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}' \
        > "$base_dir/input/config/resourceconfig.json"
    echo '{"dataset": {}, "model_cache": {}}' > "$base_dir/input/config/inputdataconfig.json"

    local run=(docker run --rm --gpus all --shm-size 16g -v "$base_dir:/opt/ml" -v "$MODELS:/opt/ml/input/data/model_cache:ro"
               -e HF_HUB_OFFLINE=1 --entrypoint bash "$image" -c)
    echo "=== $label: trainer command"
    "${run[@]}" "cd /opt/program && python -m sagemaker_entry --print-command" | tee "$base_dir/command.json"
    echo "=== $label: training $STEPS steps"
    # The dataset working copy and modality config the entry would prepare, then the printed argv as is.
    if ! "${run[@]}" "cd /opt/program && python - <<'PY'
import json, os, subprocess, sys
from pathlib import Path
from gr00t_core.engines import spec_for
from sagemaker_entry import contract, engines, inputs
from sagemaker_entry.main import Entry

entry = Entry(contract.read_training_env(dict(os.environ)))
plan = entry.plan()
print('dataset warnings:', inputs.prepare_datasets(plan))  # the working copies, evaluation episodes held out
spec = spec_for(plan.config.values)
modality = engines.modality_config_path(spec, entry.env.work_dir)
if modality is not None:
    print(engines.prepare_modality_config(spec, asset_root=None, dataset_dir=plan.dataset_dir,
                                          embodiment_tag=str(plan.config['embodimentTag']), dest=modality))
cmd = json.load(open('/opt/ml/command.json'))
sys.exit(subprocess.run(cmd['argv'], env={**os.environ, **cmd['env']}).returncode)
PY"; then
        echo "=== $label: TRAINING FAILED"; status=1; return
    fi
    echo "=== $label: checkpoints"; ls "$base_dir/checkpoints"
    echo "=== $label: open-loop evaluation"
    "${run[@]}" "cd /opt/program && python - <<'PY'
import json, os
from sagemaker_entry import contract
from sagemaker_entry.finish import evaluate_run
from sagemaker_entry.main import Entry

entry = Entry(contract.read_training_env(dict(os.environ)))
print(json.dumps(evaluate_run(entry.env, entry.plan()), indent=2, default=str))
PY" | tee "$base_dir/eval.json" || status=1
}

smoke n1.5 "$IMAGE_N15" nvidia/GR00T-N1.5-3B
smoke n1.6 "$IMAGE_N16" nvidia/GR00T-N1.6-3B
echo "=== done (status $status); outputs under $WORK"
exit "$status"
