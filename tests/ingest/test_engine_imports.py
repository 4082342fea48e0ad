"""A file job's code path loads neither SQLAlchemy (SQL sources) nor pyarrow (NFKC, previews):
importing them cost every job about a quarter of a second on one thread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pipeline_import_leaves_sql_and_arrow_unloaded() -> None:
    script = (
        "import sys\n"
        "import services.ingest.pipeline\n"
        "print(sorted(m for m in ('sqlalchemy', 'pyarrow') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
