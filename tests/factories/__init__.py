"""Test factories, one module per domain, for the tests on the empty database.

``org`` (the org trees, grid cells, population figures), ``users`` (``make_user``, ``PASSWORD``),
``households`` (households, residents, citizen IDs), ``contracts`` (``make_contract`` and the
households/contracts/imports world), ``records`` (service records and the records world),
``assessments`` (published scores and the assessments world), ``settlement`` (the settlement city,
its configuration, and the settlement prerequisites of any city, the benchmark's too) and
``surveys`` (survey answers, complaints and the surveys world). Each area's world composes these
shared factories; signing in goes through the ``auth`` fixture of ``tests/conftest.py``.
"""
