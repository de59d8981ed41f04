"""``python -m sagemaker_entry``: the training image's entry (see sagemaker_entry.main)."""

import sys

from sagemaker_entry.main import main

sys.exit(main())
