"""Offline fidelity audit of synthetic minority rows: quality, detection, privacy and downstream utility.

`run_audit` works on DataFrames. `generator.audit.model_audit.run_model_audit`
gets the rows from a trained model; `longtail audit` and the audit API job
call it. It is not re-exported here because it imports torch.
"""

from generator.audit._run import AuditProgress, run_audit
from generator.audit.report import report_schema, validate_report, write_report

__all__ = ["AuditProgress", "report_schema", "run_audit", "validate_report", "write_report"]
