"""Access expectations: the resident's confirmation page and the visit receipt.

Both are walked in tests/app/confirm/test_resident_page.py: the page needs no login but a signed
link (forged and expired links are refused there), and the receipt needs a record under a
contract, which is looked up there for each role.
"""

from __future__ import annotations

SPECIAL = {"confirm.page", "confirm.receipt"}
