"""LeRobot v2.0/v2.1 datasets for GR00T: checks, preparation, statistics, video, synthetic data.

Modules (imported one by one on purpose: ``meta`` is pure JSON and runs in the launch Lambda, the others need
numpy/pyarrow/PyAV, so nothing is re-exported here):

* :mod:`gr00t_data.meta`: ``check_meta(read, data_config)``, JSON-level checks of ``meta/`` (no heavy imports);
* :mod:`gr00t_data.prepare`: ``prepare_dataset(dir, data_config)``, every check + modality.json / stats.json;
* :mod:`gr00t_data.stats`: ``compute_stats(dir)``, GR00T's stats.json from pyarrow columns;
* :mod:`gr00t_data.video`: PyAV encode / probe / decode;
* :mod:`gr00t_data.preflight`: ``run_preflight(asset_dir, ...)`` behind ``gr00t-sm preflight``;
* :mod:`gr00t_data.synthetic`: ``generate_dataset(root, ...)``, learnable synthetic datasets with real mp4s.
"""
