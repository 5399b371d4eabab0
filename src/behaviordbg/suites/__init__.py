"""Load, validate and expand probe suites; load deployment manifests.

Suites are YAML files checked against the published JSON Schema (schemas/suite.schema.json), then
read into pydantic models and checked for what a schema cannot say (duplicate ids across files,
rules naming missing claims, duplicate prompts). Every problem becomes a SuiteError naming the file,
the line and the fix, and all of them are reported at once: a suite author should fix a file in one
pass, not one error per run. See docs/suites.md for the format.

- yaml_doc.py: YAML with a line for every key, and schema errors in plain words;
- load.py: suite files -> validated `Suite` records;
- expand.py: suites -> the queries a run asks, the references it records, a claim's line;
- manifests.py: what the deployment really can do.
"""

from __future__ import annotations

from ..errors import SuiteError, SuiteErrors
from .expand import all_claims, all_rules, claim_lines, expand, framing_counts, query_id, suite_refs
from .load import default_probes_dir, load_suites, validate_paths
from .manifests import DEFAULT_MANIFEST, check_manifest, load_manifest
from .yaml_doc import MAX_FILE_BYTES, schema_path

__all__ = [
    "DEFAULT_MANIFEST",
    "MAX_FILE_BYTES",
    "SuiteError",
    "SuiteErrors",
    "all_claims",
    "all_rules",
    "check_manifest",
    "claim_lines",
    "default_probes_dir",
    "expand",
    "framing_counts",
    "load_manifest",
    "load_suites",
    "query_id",
    "schema_path",
    "suite_refs",
    "validate_paths",
]
