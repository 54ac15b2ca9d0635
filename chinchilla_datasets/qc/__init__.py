"""Quality control: find the annotation errors of every corpus (issue 16).

- ``features``: character features and BIO tags for the NER model;
- ``crf``: K-fold (bagged) cross-validation of a character CRF, out-of-fold marginals;
- ``confident``: NER suspects ranked by the model's odds, fold agreement, cleanlab and consistency;
- ``consistency``: model-free checks for NER, RE and EE;
- ``report``: QC of one corpus, the report and which rows are flagged;
- ``apply``: QC over a built folder (during ``chinchilla build --qc`` or ``chinchilla qc``);
- ``review``: the page a person reads to judge the top suspects (``chinchilla qc-review``).
"""

from .apply import QCUnavailable, apply_qc, qc_build, qc_processes, read_report, require_qc_dependencies, write_report
from .report import DEFAULT_THRESHOLD, QC_FLAG, REPORT_FILE, QCOptions

__all__ = ["QCUnavailable", "apply_qc", "qc_build", "qc_processes", "read_report", "require_qc_dependencies", "write_report", "DEFAULT_THRESHOLD", "QC_FLAG", "REPORT_FILE", "QCOptions"]
