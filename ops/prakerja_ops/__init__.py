"""``prakerja-ops``: the operators' command line (a thin layer over ``prakerja.services``).

Runs against the local stack (``--local http://127.0.0.1:8000`` or ``--endpoint <moto URL>``),
a deployed stack (AWS credentials and ``--stack-name``), or the resource names in the
environment (``BATCHES_TABLE``, ... as the functions see them). See ``prakerja-ops --help``.
"""
