"""``python -m tunelab.hpsearch``: the trial fork server of :mod:`tunelab.hpsearch.isolation`.

An entry point of its own, because running ``-m tunelab.hpsearch.isolation`` would execute
a module the package has already imported (runpy warns, and the server would hold two
copies of its classes).
"""

from tunelab.hpsearch.isolation import serve

serve()
