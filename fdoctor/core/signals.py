"""Signals between areas (blinker, as Flask uses): an area that changes a fact sends one, the
areas that depend on the fact listen, and the sender imports none of them.

* ``record_found_false`` — a service record was found false by review (``fdoctor.surveys``);
  sent with ``record`` as sender and ``user``;
* ``score_revised`` — a published assessment got a new published revision (an accepted appeal
  or a correction, ``fdoctor.assessments.revisions``); sent with the new revision and ``user``.

Receivers run in the sender's transaction and flush; the request commits once. Today's listener
is ``fdoctor.corrections`` (corrections of locked settlements), connected by ``create_app``.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

record_found_false = _signals.signal("record-found-false")
score_revised = _signals.signal("score-revised")
