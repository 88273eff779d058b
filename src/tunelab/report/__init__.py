"""Self-contained HTML reports for run and compare directories.

``write_report(dir)`` reads what a run (or a compare of strategies) left on disk and
writes one ``report.html`` with every figure embedded, so it can be mailed or archived
and still open offline.
"""

from tunelab.report.render import write_report

__all__ = ["write_report"]
