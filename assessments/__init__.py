"""The pure domain core of fdoctor.

Index files, scoring rules, the tier calendar, sampling, care schedules and the settlement
arithmetic. Nothing here imports Flask or SQLAlchemy: it takes and returns plain dataclasses,
so the rules of points and money can be read, tested and run without the web app.
"""
